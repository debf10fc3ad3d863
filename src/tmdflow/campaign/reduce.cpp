#include "tmdflow/campaign/reduce.hpp"

#include <mpi.h>
#include <stdlib.h>

#include <filesystem>

#include "tmdflow/campaign/tables.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/par/comm.hpp"

namespace fs = std::filesystem;

namespace tmdflow::campaign {
namespace {

// A new folder beside `target`, renamed onto it by commit(); removed when not committed.
class FolderSwap {
 public:
  explicit FolderSwap(const fs::path& target) : target_(target) {
    std::string tmpl = target.string() + ".tmp-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw IoError(target.string() + ": cannot create a temporary folder beside it");
    tmp_ = tmpl;
  }
  ~FolderSwap() {
    std::error_code ec;
    if (!tmp_.empty()) fs::remove_all(tmp_, ec);
  }
  const fs::path& path() const { return tmp_; }
  void commit() {
    std::error_code ec;
    fs::path old;
    if (fs::exists(target_)) {
      std::string tmpl = target_.string() + ".old-XXXXXX";
      if (!::mkdtemp(tmpl.data())) throw IoError(target_.string() + ": cannot move the previous reduce aside");
      old = tmpl;
      fs::remove(old);
      fs::rename(target_, old, ec);
      if (ec) throw IoError(target_.string() + ": cannot move the previous reduce aside: " + ec.message());
    }
    fs::rename(tmp_, target_, ec);
    if (ec) throw IoError(target_.string() + ": cannot put the new reduce in place: " + ec.message());
    tmp_.clear();
    if (!old.empty()) fs::remove_all(old, ec);
  }

 private:
  fs::path target_, tmp_;
};

std::string product_path(const std::string& campaign_dir, const Record& r) { return (fs::path(campaign_dir) / r.product).string(); }

}  // namespace

std::vector<Verdict> current_states(const std::string& campaign_dir, const std::vector<InputFile>& inputs,
                                    const std::map<std::string, Record>& ledger, const std::string& config_hash) {
  std::vector<Verdict> out;
  out.reserve(inputs.size());
  for (const auto& in : inputs) {
    const auto f = ledger.find(in.key);
    std::optional<Record> last;
    if (f != ledger.end()) last = f->second;
    FileStamp now;
    try {
      now = stamp(in.path);
    } catch (const IoError& e) {
      out.push_back({State::stale, e.what()});
      continue;
    }
    const bool product = last && !last->product.empty() && fs::exists(product_path(campaign_dir, *last));
    out.push_back(judge(last, now, config_hash, product));
  }
  return out;
}

ReduceReport reduce(const std::string& campaign_dir, const std::vector<InputFile>& inputs, const std::map<std::string, Record>& ledger,
                    const std::string& config_hash, std::vector<std::unique_ptr<Reduction>> reductions) {
  if (reductions.empty()) reductions = make_reductions();
  ReduceReport report;
  report.inputs = inputs.size();
  report.folder = (fs::path(campaign_dir) / "campaign").string();
  FolderSwap out(report.folder);
  const std::string folder = out.path().string();
  const std::vector<Verdict> states = current_states(campaign_dir, inputs, ledger, config_hash);

  CsvTable table(folder + "/inputs.csv",
                 {"index", "key", "input", "state", "why", "size", "mtime_ns", "seconds", "exit", "product", "task", "time"});
  std::vector<bool> used(reductions.size(), false);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const InputFile& in = inputs[i];
    const auto f = ledger.find(in.key);
    const Record* r = f == ledger.end() ? nullptr : &f->second;
    const Verdict& v = states[i];
    table.row({std::to_string(i + 1), in.key, in.path, state_name(v.state), v.why, r ? std::to_string(r->size) : "",
               r ? std::to_string(r->mtime_ns) : "", r ? CsvTable::number(r->seconds) : "", r ? std::to_string(r->exit_code) : "",
               r ? r->product : "", r ? r->task : "", r ? r->time : ""});
    if (v.state != State::done) {
      report.not_done.push_back(in.key + ": " + state_name(v.state) + (v.why.empty() ? "" : " (" + v.why + ")"));
      continue;
    }
    ++report.done;
    // One product file open at a time; every reduction that reads one of its groups sees it now.
    const std::string file = product_path(campaign_dir, *r);
    io::h5::File h5 = io::h5::File::open(file, io::h5::Mode::read, nullptr);
    const io::h5::Group root = h5.root();
    for (const auto& name : root.children()) {
      if (root.kind(name) != io::h5::LinkKind::group) continue;
      const io::h5::Group g = root.open_group(name);
      const auto info = io::read_product_attrs(g);
      if (!info || !info->complete) continue;
      for (std::size_t k = 0; k < reductions.size(); ++k) {
        if (reductions[k]->product_schema() != info->schema || !reductions[k]->accepts(g)) continue;
        if (!used[k]) reductions[k]->begin(folder);
        used[k] = true;
        reductions[k]->add(ProductView{i, &in, &g});
        ++report.products;
      }
    }
  }
  table.close();

  // Each reduction that saw products writes its group of campaign.h5 (a product like any other).
  par::Comm self(MPI_COMM_SELF);
  for (std::size_t k = 0; k < reductions.size(); ++k) {
    if (!used[k]) continue;
    const Reduction& red = *reductions[k];
    io::ProductWriter writer(self, io::Target{folder + "/campaign.h5", "/" + red.name()},
                             io::ProductInfo{red.campaign_schema(), "campaign-reduce", config_hash, false,
                                             "tmdflow campaign reduce " + campaign_dir});
    reductions[k]->finish(writer.group(), folder + "/figures");
    writer.commit();
    report.summaries.push_back(red.summary());
  }
  out.commit();
  return report;
}

}  // namespace tmdflow::campaign
