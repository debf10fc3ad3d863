#include "tmdflow/io/formats/arina_files.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "tmdflow/core/strings.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {
namespace {

const std::regex kDataFileName(R"((.+)_data_\d{6}\.h5)");
const std::regex kDataLinkName(R"(data_(\d{6}))");
constexpr const char* kMasterSuffix = "_master.h5";

std::string beside(const std::string& path, const std::string& name) {
  return (fs::path(path).parent_path() / name).string();
}

// An NXmx master: the detector group and at least one data_NNNNNN link (not followed: the data
// files need not be there to tell what the file is).
bool looks_like_master(const h5::Group& root) {
  if (root.kind("entry/instrument/detector") != h5::LinkKind::group || root.kind("entry/data") != h5::LinkKind::group)
    return false;
  const auto names = root.open_group("entry/data").children();
  return std::any_of(names.begin(), names.end(), [](const std::string& n) { return std::regex_match(n, kDataLinkName); });
}

bool looks_like_data_file(const h5::Group& root) {
  return root.kind("entry/instrument") == h5::LinkKind::missing && root.kind("entry/data/data") == h5::LinkKind::dataset &&
         root.open_dataset("entry/data/data").has_attr("image_nr_low");
}

}  // namespace

DectrisRole dectris_role(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (str::ends_with(name, kMasterSuffix)) return DectrisRole::master;
  if (std::regex_match(name, kDataFileName)) return DectrisRole::data;
  if (!h5::File::is_hdf5(path)) return DectrisRole::none;
  try {
    const h5::File file = h5::File::open(path, h5::Mode::read, nullptr);
    const h5::Group root = file.root();
    if (looks_like_master(root)) return DectrisRole::master;
    if (root.kind("STEM Metadata") == h5::LinkKind::group) return DectrisRole::scan_metadata;
    if (looks_like_data_file(root)) return DectrisRole::data;
  } catch (const Error&) {
    // Not readable as one of these: the generic HDF5 reader will say what is wrong with it.
  }
  return DectrisRole::none;
}

std::string dectris_master_of(const std::string& path, DectrisRole role) {
  const std::string name = fs::path(path).filename().string();
  std::string master;
  std::string what;
  if (role == DectrisRole::master) return path;
  if (role == DectrisRole::data) {
    std::smatch m;
    if (!std::regex_match(name, m, kDataFileName))
      throw InputError::at(path, "/entry/data/data", "file",
                           "a DECTRIS master file (BASE_master.h5, which holds the pixel mask, the metadata and the "
                           "links to every data file)",
                           "a data file whose name does not tell its master; give the master as --input");
    master = beside(path, m[1].str() + kMasterSuffix);
    what = "this data file";
  } else {
    master = beside(path, fs::path(path).stem().string() + kMasterSuffix);
    what = "this scan-metadata file";
  }
  if (!fs::is_regular_file(master))
    throw InputError::at(path, "", "DECTRIS master",
                         fs::path(master).filename().string() + " beside " + what +
                             " (it holds the pixel mask, the metadata and the links to every data file)",
                         "no such file; keep the master with its data files and give it as --input");
  return master;
}

std::string dectris_scan_metadata_path(const std::string& master) {
  const std::string name = fs::path(master).filename().string();
  if (!str::ends_with(name, kMasterSuffix)) return "";
  return beside(master, name.substr(0, name.size() - std::string(kMasterSuffix).size()) + ".h5");
}

std::vector<DectrisDataLink> dectris_data_links(const h5::File& master) {
  const h5::Group root = master.root();
  if (root.kind("entry/data") != h5::LinkKind::group)
    throw InputError::at(master.path(), "/entry/data", "group", "the NXmx data group with data_NNNNNN links", "none");
  const h5::Group data = root.open_group("entry/data");
  std::vector<std::pair<int, std::string>> numbered;
  for (const auto& name : data.children()) {
    std::smatch m;
    if (std::regex_match(name, m, kDataLinkName)) numbered.emplace_back(std::stoi(m[1].str()), name);
  }
  if (numbered.empty())
    throw InputError::at(master.path(), "/entry/data", "links", "data_000001, data_000002, ... (the frames)", "none");
  std::sort(numbered.begin(), numbered.end());

  std::vector<DectrisDataLink> links;
  for (std::size_t i = 0; i < numbered.size(); ++i) {
    const std::string link = "/entry/data/" + numbered[i].second;
    if (numbered[i].first != int(i) + 1) {
      char expected[32];
      std::snprintf(expected, sizeof expected, "data_%06d", int(i) + 1);
      throw InputError::at(master.path(), "/entry/data", "links", std::string(expected) + " (data files count from 000001 without gaps)",
                           numbered[i].second + " after " + (i ? numbered[i - 1].second : std::string("none")));
    }
    H5L_info_t info;
    TMDFLOW_H5(H5Lget_info(data.id(), numbered[i].second.c_str(), &info, H5P_DEFAULT), master.path() + ":" + link);
    if (info.type != H5L_TYPE_EXTERNAL) {  // frames stored in the master itself
      links.push_back({link, master.path(), link});
      continue;
    }
    std::vector<char> value(info.u.val_size);
    TMDFLOW_H5(H5Lget_val(data.id(), numbered[i].second.c_str(), value.data(), value.size(), H5P_DEFAULT),
               master.path() + ":" + link);
    unsigned flags = 0;
    const char* file = nullptr;
    const char* object = nullptr;
    TMDFLOW_H5(H5Lunpack_elink_val(value.data(), value.size(), &flags, &file, &object), master.path() + ":" + link);
    // DECTRIS writes names relative to the master; resolving them here (not through HDF5's search
    // of the working directory) reads the files beside the master and names a missing one.
    fs::path target(file ? file : "");
    if (target.is_relative()) target = fs::path(master.path()).parent_path() / target;
    if (!fs::is_regular_file(target))
      throw InputError::at(master.path(), link, "external link", "its data file " + target.string(), "no such file");
    links.push_back({link, target.string(), object ? object : "/entry/data/data"});
  }
  return links;
}

std::optional<StemScanMetadata> read_stem_scan_metadata(const std::string& path) {
  if (path.empty() || !fs::is_regular_file(path) || !h5::File::is_hdf5(path)) return std::nullopt;
  const h5::File file = h5::File::open(path, h5::Mode::read, nullptr);
  const h5::Group root = file.root();
  if (root.kind("STEM Metadata") != h5::LinkKind::group) return std::nullopt;
  const h5::Group g = root.open_group("STEM Metadata");
  StemScanMetadata s;
  s.file = path;
  auto positive = [&](const char* attr) {
    const auto v = g.attr_int(attr);
    if (!v || *v <= 0)
      throw InputError::at(path, "/STEM Metadata", std::string("attribute ") + attr, "a positive whole number (the scan shape)",
                           v ? std::to_string(*v) : "none");
    return *v;
  };
  s.columns = positive("NumPixelsX");
  s.rows = positive("NumPixelsY");
  s.prescan = g.attr_int("NumPixelsPrescan").value_or(0);
  s.pixel_size_nm = g.attr_double("Pixel Size");
  s.pixel_size_calibrated = g.attr_int("IsPixelSizeCalibrated").value_or(0) != 0;
  s.high_tension_V = g.attr_double("High Tension");
  s.camera_length_m = g.attr_double("Camera Length");
  return s;
}

}  // namespace tmdflow::io
