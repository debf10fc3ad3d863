#pragma once
// The table of detected defects that the dynamics stages pass along (data_schema/dynamics.md):
// detect-defects writes defects/1 (frame, x_px, y_px, defect_class, score); track-defects adds
// track_id, x_A, y_A and drift_px (tracks/1); defect-motifs adds complex, missing, isolated and
// motif (motifs/1); kinetics writes it into dynamics/1. Each stage reads the product before it,
// checks it, and writes the whole table again with its own columns, so every product stands alone.
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"

namespace tmdflow::stages {

/// What the table's movie is: copied from product to product.
struct MovieFacts {
  std::string source;               // the movie (FILE:/group) detect-defects read
  std::int64_t frames = 0, height = 0, width = 0;
  double pixel_size_A = 0, frame_time_s = 0;
  double dose_e_per_A2 = 0;         // per frame; 0: unknown
  double edge_margin_A = 0;         // detect-defects reports nothing this close to the frame's edge
  std::string model_name, model_sha256;
};

struct DefectTable {
  MovieFacts movie;
  std::vector<std::string> class_names;
  std::vector<std::int32_t> frame;
  std::vector<float> x_px, y_px, score;
  std::vector<std::int8_t> defect_class;
  // track-defects
  std::vector<std::int32_t> track_id;
  std::vector<double> x_A, y_A;     // drift-corrected: (x_px - drift col) * pixel, likewise y
  std::vector<double> drift_px;     // [frames * 2]: (row, col) of the content's shift from frame 0
  // defect-motifs
  std::vector<std::int8_t> complex, missing, isolated;
  std::vector<std::int32_t> motif;

  bool tracked = false;     // has the track-defects columns (even with no rows)
  bool classified = false;  // has the defect-motifs columns

  std::size_t size() const { return frame.size(); }
};

/// Reads the table from the product at `spec` (FILE[:/group], `default_group` when only a file is
/// named): the columns of defects/1, and those of tracks/1 and motifs/1 when present. InputError
/// naming the file and dataset for a missing product or column, columns of different lengths,
/// classes or frames out of range; `need` ("tracks", "motifs" or "") names what the reading stage
/// requires beyond defects/1.
DefectTable read_defect_table(const std::string& spec, const std::string& default_group, const std::string& need);

/// Writes every column the table has, and the movie's facts as attributes (collective).
void write_defect_table(const io::h5::Group& g, const DefectTable& t);

/// The movie a stage reads beside the table: `images` when given, else the one detect-defects read
/// (attribute source). InputError naming `input` when neither is known, and naming the movie when
/// its frames differ from the table's in number or size.
std::string checked_movie(const std::string& input, const std::string& images, const MovieFacts& m);

}  // namespace tmdflow::stages
