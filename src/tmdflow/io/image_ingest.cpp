#include "tmdflow/io/image_ingest.hpp"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {

bool is_glob(const std::string& input) { return input.find_first_of("*?[") != std::string::npos; }

namespace {

std::vector<std::string> glob_matches(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  return out;  // glob sorts its matches
}

std::vector<std::string> folder_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.') out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string sanitized(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

bool same_size(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b)); }

}  // namespace

bool is_image_input(const std::string& input) {
  std::error_code ec;
  if (fs::is_directory(input, ec)) {
    for (const auto& f : folder_files(input))
      if (looks_like_image_file(f)) return true;
    return false;
  }
  if (!fs::exists(input, ec) && is_glob(input)) {
    const auto m = glob_matches(input);
    return std::any_of(m.begin(), m.end(), [](const std::string& f) { return looks_like_image_file(f); });
  }
  return looks_like_image_file(input);
}

std::vector<std::string> expand_image_inputs(const std::string& input) {
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(input, ec)) {
    for (const auto& f : folder_files(input))
      if (looks_like_image_file(f)) files.push_back(f);
    if (files.empty()) throw InputError(input + ": expected a folder holding image files, found none that tmdflow reads");
  } else if (!fs::exists(input, ec) && is_glob(input)) {
    for (const auto& f : glob_matches(input))
      if (fs::is_regular_file(f, ec)) files.push_back(f);
    if (files.empty()) throw IoError(input + ": no file matches this pattern");
  } else {
    if (!fs::exists(input, ec)) throw IoError(input + ": no such file");
    files.push_back(input);
  }
  // A TIA series is one .emi with its .ser files (STEM_1.ser, STEM_2.ser): keep the .emi, which
  // names them, and drop the .ser files of an .emi that is in the list.
  std::set<std::string> emis;
  for (const auto& f : files)
    if (str::lower(fs::path(f).extension().string()) == ".emi") emis.insert((fs::path(f).parent_path() / fs::path(f).stem()).string());
  std::vector<std::string> kept;
  for (const auto& f : files) {
    const fs::path p(f);
    if (str::lower(p.extension().string()) == ".ser") {
      const std::string stem = p.stem().string();
      const auto us = stem.rfind('_');
      if (us != std::string::npos && emis.count((p.parent_path() / stem.substr(0, us)).string())) continue;
    }
    kept.push_back(f);
  }
  return kept;
}

std::uint64_t ImageIngestPlan::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& s : stacks) n += std::uint64_t(s.meta.frames) * s.meta.frame_bytes();
  return n;
}

std::int64_t ImageIngestPlan::total_frames() const {
  std::int64_t n = 0;
  for (const auto& s : stacks) n += s.meta.frames;
  return n;
}

ImageIngestPlan plan_image_ingest(const std::vector<std::string>& files, const ImageIngestOptions& o) {
  ImageIngestPlan plan;
  plan.files = files;
  struct Chosen {
    std::size_t file, signal;
    ImageSignal s;
  };
  std::vector<Chosen> chosen;
  for (std::size_t fi = 0; fi < files.size(); ++fi) {
    auto src = open_image_source(files[fi], o.format);
    plan.format_labels.push_back(src->format_label());
    for (const auto& c : src->companion_files()) plan.companions.push_back(c);
    const auto& sigs = src->signals();
    std::vector<std::size_t> pick;
    if (!o.signal.empty()) {
      for (std::size_t k = 0; k < sigs.size(); ++k)
        if (sigs[k].title == o.signal || std::to_string(k) == o.signal) pick.push_back(k);
      if (pick.empty()) {
        std::vector<std::string> names;
        for (std::size_t k = 0; k < sigs.size(); ++k) names.push_back(std::to_string(k) + " '" + sigs[k].title + "'");
        throw InputError(files[fi] + ": signal: expected one of " + str::join(names, ", ") + ", found '" + o.signal + "'");
      }
    } else {
      for (std::size_t k = 0; k < sigs.size(); ++k) {
        const bool match = sigs[k].height == sigs[0].height && sigs[k].width == sigs[0].width && sigs[k].dtype == sigs[0].dtype;
        if (match) pick.push_back(k);
        else
          plan.warnings.push_back(files[fi] + ": signal " + std::to_string(k) + " '" + sigs[k].title + "' (" + std::to_string(sigs[k].height) +
                                  "x" + std::to_string(sigs[k].width) + " " + dtype_name(sigs[k].dtype) +
                                  ") differs from the first signal in size or type: passed over (choose it with --signal)");
      }
    }
    for (std::size_t k : pick) {
      ImageSignal s = sigs[k];
      if (o.pixel_size_A > 0) s.pixel_size_y_A = s.pixel_size_x_A = o.pixel_size_A;
      if (o.frame_time_s > 0) s.frame_time_s = o.frame_time_s;
      if (!s.calibrated())
        plan.warnings.push_back(files[fi] + (sigs.size() > 1 ? " signal '" + s.title + "'" : std::string()) +
                                ": no pixel size in the file: marked uncalibrated (calibrated=0); give --pixel-size-A to calibrate");
      chosen.push_back({fi, k, std::move(s)});
    }
  }
  // One stack when every chosen signal agrees in size, dtype and calibration; else one per signal.
  const ImageSignal& first = chosen.front().s;
  const bool one = std::all_of(chosen.begin(), chosen.end(), [&](const Chosen& c) {
    return c.s.height == first.height && c.s.width == first.width && c.s.dtype == first.dtype &&
           same_size(c.s.pixel_size_y_A, first.pixel_size_y_A) && same_size(c.s.pixel_size_x_A, first.pixel_size_x_A);
  });
  auto add_stack = [&](const std::vector<const Chosen*>& members, const std::string& name) {
    PlannedStack st;
    st.name = name;
    auto& m = st.meta;
    const ImageSignal& s0 = members.front()->s;
    m.height = s0.height;
    m.width = s0.width;
    m.dtype = s0.dtype;
    m.pixel_size_y_A = s0.pixel_size_y_A;
    m.pixel_size_x_A = s0.pixel_size_x_A;
    m.frame_time_s = s0.frame_time_s;
    std::set<std::string> keys;
    for (const auto* c : members) {
      if (!same_size(c->s.frame_time_s, m.frame_time_s)) m.frame_time_s = 0;  // files disagree: unknown
      for (const auto& [k, v] : c->s.acquisition) keys.insert(k);
    }
    for (const auto* c : members) {
      for (std::int64_t f = 0; f < c->s.frames; ++f) {
        st.frames.push_back({c->file, c->signal, f});
        m.source_file.push_back(fs::path(plan.files[c->file]).filename().string());
        m.title.push_back(c->s.title);
        m.frame_in_source.push_back(f);
        for (const auto& k : keys) {
          auto it = c->s.acquisition.find(k);
          m.frame_acquisition[k].push_back(it == c->s.acquisition.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
        }
      }
    }
    m.frames = std::int64_t(st.frames.size());
    // Values every frame shares become attributes of the product group.
    // (No structured binding: clang in C++17 does not let a lambda capture one.)
    for (const auto& entry : m.frame_acquisition) {
      const std::vector<double>& v = entry.second;
      if (!v.empty() && std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); })) m.acquisition[entry.first] = v.front();
    }
    plan.stacks.push_back(std::move(st));
  };
  if (one) {
    std::vector<const Chosen*> all;
    for (const auto& c : chosen) all.push_back(&c);
    add_stack(all, "");
  } else {
    std::set<std::string> used;
    for (const auto& c : chosen) {
      std::string name = sanitized(fs::path(plan.files[c.file]).stem().string());
      const bool several = std::count_if(chosen.begin(), chosen.end(), [&](const Chosen& d) { return d.file == c.file; }) > 1;
      if (several) name += "_" + sanitized(c.s.title);
      std::string unique = name;
      for (int k = 2; used.count(unique); ++k) unique = name + "_" + std::to_string(k);
      used.insert(unique);
      add_stack({&c}, unique);
    }
  }
  return plan;
}

void PlanFrameReader::read(const PlannedStack& stack, std::int64_t first, std::int64_t count, void* out) {
  const std::uint64_t fb = stack.meta.frame_bytes();
  std::int64_t k = 0;
  while (k < count) {
    const FrameRef& r = stack.frames[std::size_t(first + k)];
    // Consecutive frames of one signal of one file are read in one call.
    std::int64_t run = 1;
    while (k + run < count) {
      const FrameRef& n = stack.frames[std::size_t(first + k + run)];
      if (n.file != r.file || n.signal != r.signal || n.frame != r.frame + run) break;
      ++run;
    }
    if (open_index_ != r.file) {
      open_.reset();
      open_ = open_image_source(plan_.files[r.file], format_);
      open_index_ = r.file;
      const auto& sigs = open_->signals();
      if (r.signal >= sigs.size() || sigs[r.signal].height != stack.meta.height || sigs[r.signal].width != stack.meta.width ||
          sigs[r.signal].dtype != stack.meta.dtype)
        throw InputError(plan_.files[r.file] + ": expected the signals it had when the job started, found the file changed");
    }
    open_->read_frames(r.signal, r.frame, run, static_cast<char*>(out) + std::uint64_t(k) * fb);
    k += run;
  }
}

}  // namespace tmdflow::io
