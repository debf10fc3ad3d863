// Campaign inputs and ledger (campaign/manifest.hpp, campaign/ledger.hpp): a folder, a glob and a
// list file expand to the same sorted keys; hidden files, the campaign's own folder and names not
// matching are left out; the ledger survives concurrent appenders and a torn last line, and a plan
// redoes exactly what is missing, failed or changed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/testing.hpp"
#include "tmdflow/campaign/ledger.hpp"
#include "tmdflow/campaign/manifest.hpp"
#include "tmdflow/core/error.hpp"

namespace fs = std::filesystem;
using namespace tmdflow;
using namespace tmdflow::campaign;

namespace {

void touch(const std::string& path, const std::string& text = "x") {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::vector<std::string> keys(const std::vector<InputFile>& v) {
  std::vector<std::string> k;
  for (const auto& f : v) k.push_back(f.key);
  return k;
}

// An archive: two folders of scans, a hidden file, a notes file and the campaign's own folder.
std::string archive(const tmdflow::testing::ScratchDir& dir) {
  const std::string root = dir.file("archive");
  touch(root + "/2024-05/scan_b.h5");
  touch(root + "/2024-05/scan_a.h5");
  touch(root + "/2024-06/deep/scan_c.h5");
  touch(root + "/2024-06/.scan_hidden.h5");
  touch(root + "/notes.txt");
  touch(root + "/campaign/products/scan_a/scan_a.h5");
  return root;
}

}  // namespace

TEST(CampaignManifest, FolderGlobAndListAgree) {
  tmdflow::testing::ScratchDir dir;
  const std::string root = archive(dir);
  const std::vector<std::string> expected{"2024-05/scan_a.h5", "2024-05/scan_b.h5", "2024-06/deep/scan_c.h5"};

  ManifestOptions o;
  o.match = "*.h5";
  o.exclude_dir = root + "/campaign";
  const auto folder = expand_manifest(root, o);
  EXPECT_EQ(keys(folder), expected);
  EXPECT_EQ(folder[0].path, root + "/2024-05/scan_a.h5");

  // ** spans any number of folders; the fixed part is the root of the keys.
  const auto glob = expand_manifest(root + "/**/scan_*.h5", {"", root + "/campaign"});
  EXPECT_EQ(keys(glob), expected);
  const auto one_level = expand_manifest(root + "/2024-0?/*.h5");
  EXPECT_EQ(keys(one_level), (std::vector<std::string>{"2024-05/scan_a.h5", "2024-05/scan_b.h5"}));

  // A list: relative to its folder, comments and blank lines ignored, FILE:/group kept.
  const std::string list = dir.file("files.list");
  std::ofstream(list) << "# the May scans\narchive/2024-05/scan_b.h5\n\n" << root << "/2024-05/scan_a.h5:/datacube_root  # a group\n";
  const auto listed = expand_manifest("@" + list);
  EXPECT_EQ(keys(listed), (std::vector<std::string>{"scan_a.h5/datacube_root", "scan_b.h5"}));
  EXPECT_EQ(listed[0].path, root + "/2024-05/scan_a.h5:/datacube_root");
}

TEST(CampaignManifest, FolderWithoutMatchTakesEveryVisibleFile) {
  tmdflow::testing::ScratchDir dir;
  const std::string root = archive(dir);
  const auto all = expand_manifest(root);
  // The campaign folder is an input unless excluded; hidden files never are.
  EXPECT_EQ(keys(all), (std::vector<std::string>{"2024-05/scan_a.h5", "2024-05/scan_b.h5", "2024-06/deep/scan_c.h5",
                                                 "campaign/products/scan_a/scan_a.h5", "notes.txt"}));
}

TEST(CampaignManifest, RefusesWhatItCannotUse) {
  tmdflow::testing::ScratchDir dir;
  const std::string root = archive(dir);
  EXPECT_THROW(expand_manifest(dir.file("nowhere")), IoError);
  EXPECT_THROW(expand_manifest(root, {"*.mib", ""}), InputError);          // nothing matches
  EXPECT_THROW(expand_manifest(dir.file("nowhere") + "/*.h5"), IoError);   // the glob's folder is missing
  const std::string twice = dir.file("twice.txt");
  std::ofstream(twice) << root << "/2024-05/scan_a.h5\n" << root << "/2024-05/scan_a.h5\n";
  try {
    expand_manifest(twice);
    FAIL() << "a list naming one file twice was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("scan_a.h5"), std::string::npos) << e.what();
  }
  const std::string missing = dir.file("missing.txt");
  std::ofstream(missing) << root << "/2024-05/scan_a.h5\n" << root << "/gone.h5\n";
  try {
    expand_manifest(missing);
    FAIL() << "a list naming a missing file was accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST(CampaignLedger, RecordsRoundTripAndTheLastOneWins) {
  tmdflow::testing::ScratchDir dir;
  const std::string ledger = dir.file("ledger.jsonl");
  Record r;
  r.key = "a/scan \"1\",\n.h5";
  r.input = "/data/a/scan.h5";
  r.state = State::failed;
  r.size = 1ull << 40;
  r.mtime_ns = 1700000000123456789;
  r.config = "0123456789abcdef";
  r.exit_code = 4;
  r.error = "scan.h5: expected an HDF5 file";
  r.seconds = 0.25;
  append(ledger, r);
  Record later = r;
  later.state = State::done;
  later.error.clear();
  append(ledger, later);
  Record other = r;
  other.key = "b";
  append(ledger, other);
  std::ofstream(ledger, std::ios::app) << "{\"key\": \"c\", \"sta";  // a writer killed mid-line
  int torn = 0;
  const auto last = latest(ledger, &torn);
  EXPECT_EQ(torn, 1);
  ASSERT_EQ(last.size(), 2u);
  const Record& a = last.at(r.key);
  EXPECT_EQ(a.state, State::done);
  EXPECT_EQ(a.size, r.size);
  EXPECT_EQ(a.mtime_ns, r.mtime_ns);
  EXPECT_EQ(a.config, r.config);
  EXPECT_EQ(last.at("b").state, State::failed);
  EXPECT_EQ(last.at("b").error, r.error);
  EXPECT_TRUE(latest(dir.file("none.jsonl")).empty());
}

TEST(CampaignLedger, ConcurrentAppendersNeverInterleave) {
  tmdflow::testing::ScratchDir dir;
  const std::string ledger = dir.file("ledger.jsonl");
  constexpr int kWriters = 4, kRecords = 50;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      Record r;
      r.state = State::done;
      r.error = std::string(3000, 'e');  // lines longer than a pipe buffer (PIPE_BUF): one write each still
      for (int i = 0; i < kRecords; ++i) {
        r.key = std::to_string(w) + "/" + std::to_string(i);
        append(ledger, r);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  int torn = 0;
  EXPECT_EQ(latest(ledger, &torn).size(), std::size_t(kWriters * kRecords));
  EXPECT_EQ(torn, 0);
}

TEST(CampaignLedger, JudgeRedoesMissingFailedAndChanged) {
  const FileStamp now{100, 5000};
  Record done;
  done.state = State::done;
  done.size = 100;
  done.mtime_ns = 5000;
  done.config = "aaaa";
  done.product = "products/x/x.h5";
  EXPECT_EQ(judge(std::nullopt, now, "aaaa", false).state, State::missing);
  EXPECT_EQ(judge(done, now, "aaaa", true).state, State::done);
  EXPECT_EQ(judge(done, now, "bbbb", true).state, State::stale);
  EXPECT_NE(judge(done, now, "bbbb", true).why.find("configuration"), std::string::npos);
  EXPECT_EQ(judge(done, FileStamp{101, 5000}, "aaaa", true).state, State::stale);
  EXPECT_EQ(judge(done, FileStamp{100, 5001}, "aaaa", true).state, State::stale);
  EXPECT_EQ(judge(done, now, "aaaa", false).state, State::stale);  // product deleted
  Record failed = done;
  failed.state = State::failed;
  failed.error = "boom";
  EXPECT_EQ(judge(failed, now, "aaaa", true).state, State::failed);
  EXPECT_EQ(judge(failed, now, "aaaa", true).why, "boom");
}
