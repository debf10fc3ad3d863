#include "tmdflow/io/chunk_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tmdflow::io {

// The driver's state of one open file: HDF5's public part first, as the driver interface requires.
struct ChunkMapping::ProbeFile {
  H5FD_t pub;
  int fd = -1;
  haddr_t eoa = 0, eof = 0;
  dev_t device = 0;
  ino_t inode = 0;
  // While `probing`, raw-data reads are recorded here instead of read.
  bool probing = false;
  int raw_reads = 0;
  haddr_t raw_address = 0;
  std::size_t raw_bytes = 0;
};

namespace {

using ProbeFile = ChunkMapping::ProbeFile;

ProbeFile* state(H5FD_t* f) { return reinterpret_cast<ProbeFile*>(f); }
const ProbeFile* state(const H5FD_t* f) { return reinterpret_cast<const ProbeFile*>(f); }

extern "C" {

// A read-only plain file (POSIX pread) whose raw-data reads, while probing, only note where they are.
static H5FD_t* probe_open(const char* name, unsigned flags, hid_t, haddr_t) {
  if (flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC | H5F_ACC_EXCL)) return nullptr;
  const int fd = ::open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return nullptr;
  }
  auto* f = new (std::nothrow) ProbeFile();
  if (!f) {
    ::close(fd);
    return nullptr;
  }
  f->fd = fd;
  f->eof = haddr_t(st.st_size);
  f->device = st.st_dev;
  f->inode = st.st_ino;
  return &f->pub;
}

static herr_t probe_close(H5FD_t* file) {
  ProbeFile* f = state(file);
  const int rc = ::close(f->fd);
  delete f;
  return rc == 0 ? 0 : -1;
}

static int probe_cmp(const H5FD_t* a, const H5FD_t* b) {
  const ProbeFile *f = state(a), *g = state(b);
  if (f->device != g->device) return f->device < g->device ? -1 : 1;
  if (f->inode != g->inode) return f->inode < g->inode ? -1 : 1;
  return 0;
}

static herr_t probe_query(const H5FD_t*, unsigned long* flags) {
  if (flags) *flags = H5FD_FEAT_ACCUMULATE_METADATA_READ;  // raw data never goes through the accumulator
  return 0;
}

static haddr_t probe_get_eoa(const H5FD_t* file, H5FD_mem_t) { return state(file)->eoa; }
static herr_t probe_set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t address) {
  state(file)->eoa = address;
  return 0;
}
static haddr_t probe_get_eof(const H5FD_t* file, H5FD_mem_t) { return state(file)->eof; }

// The handle H5Fget_vfd_handle gives: the driver's state itself.
static herr_t probe_get_handle(H5FD_t* file, hid_t, void** handle) {
  *handle = file;
  return 0;
}

static herr_t probe_read(H5FD_t* file, H5FD_mem_t type, hid_t, haddr_t address, size_t bytes, void* buffer) {
  ProbeFile* f = state(file);
  if (f->probing && type == H5FD_MEM_DRAW) {
    ++f->raw_reads;
    f->raw_address = address;
    f->raw_bytes = bytes;
    return 0;
  }
  auto* out = static_cast<unsigned char*>(buffer);
  while (bytes > 0) {
    const ssize_t n = ::pread(f->fd, out, bytes, off_t(address));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {  // beyond the end of the file: zeros, as HDF5's own drivers give
      std::memset(out, 0, bytes);
      break;
    }
    out += n;
    bytes -= std::size_t(n);
    address += haddr_t(n);
  }
  return 0;
}

static herr_t probe_write(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) { return -1; }
static herr_t probe_truncate(H5FD_t*, hid_t, hbool_t) { return 0; }

}  // extern "C"

hid_t probe_driver() {
  static const H5FD_class_t driver = {
      "tmdflow_chunk_address",
      haddr_t((std::uint64_t(1) << 62) - 1),  // maxaddr
      H5F_CLOSE_WEAK,
      nullptr,  // terminate
      nullptr, nullptr, nullptr,  // superblock size, encode, decode
      0, nullptr, nullptr, nullptr,  // fapl
      0, nullptr, nullptr,  // dxpl
      probe_open, probe_close, probe_cmp, probe_query,
      nullptr,  // get_type_map
      nullptr, nullptr,  // alloc, free
      probe_get_eoa, probe_set_eoa, probe_get_eof, probe_get_handle, probe_read, probe_write,
      nullptr,  // flush
      probe_truncate,
      nullptr, nullptr,  // lock, unlock
      H5FD_FLMAP_DICHOTOMY};
  static const hid_t id = H5FDregister(&driver);
  return id;
}

}  // namespace

std::unique_ptr<ChunkMapping> ChunkMapping::open(const h5::Dataset& data, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = data.where() + ": " + reason;
    H5Eclear2(H5E_DEFAULT);
    return std::unique_ptr<ChunkMapping>();
  };
  // The file that holds the dataset (an external link may lead elsewhere than the one opened),
  // and only a plain file on disk: the addresses must be byte offsets of that one file.
  h5::Handle file(H5Iget_file_id(data.id()), H5Fclose);
  if (!file.valid()) return fail("no file");
  h5::Handle fapl(H5Fget_access_plist(file.get()), H5Pclose);
  if (!fapl.valid()) return fail("no file access list");
  const hid_t driver = H5Pget_driver(fapl.get());
  if (driver != H5FD_SEC2 && driver != H5FD_MPIO) return fail("not a plain file (file driver other than sec2 or mpio)");
  const ssize_t name_length = H5Fget_name(file.get(), nullptr, 0);
  if (name_length <= 0) return fail("no file name");
  std::string name(std::size_t(name_length) + 1, '\0');
  H5Fget_name(file.get(), name.data(), name.size());
  name.resize(std::size_t(name_length));
  H5O_info_t info;
  if (H5Oget_info2(data.id(), &info, H5O_INFO_BASIC) < 0) return fail("no object address");

  const hid_t probe = probe_driver();
  if (probe < 0) return fail("cannot register the address probe driver");
  h5::Handle probe_fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!probe_fapl.valid() || H5Pset_driver(probe_fapl.get(), probe, nullptr) < 0) return fail("cannot set the probe driver");
  std::unique_ptr<ChunkMapping> m(new ChunkMapping());
  m->file_ = h5::Handle(H5Fopen(name.c_str(), H5F_ACC_RDONLY, probe_fapl.get()), H5Fclose);
  if (!m->file_.valid()) return fail("cannot open " + name + " for chunk look-ups");
  m->dataset_ = h5::Handle(H5Oopen_by_addr(m->file_.get(), info.addr), H5Oclose);
  if (!m->dataset_.valid() || H5Iget_type(m->dataset_.get()) != H5I_DATASET) return fail("cannot open the dataset by its address");
  {
    // The same dataset as the open one (its metadata on disk, not held back by a writer).
    h5::Handle space(H5Dget_space(m->dataset_.get()), H5Sclose);
    std::vector<hsize_t> dims(H5S_MAX_RANK);
    const int rank = space.valid() ? H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) : -1;
    if (rank < 0 || h5::Shape(dims.begin(), dims.begin() + rank) != data.shape())
      return fail("the dataset on disk differs from the open one");
  }
  void* handle = nullptr;
  if (H5Fget_vfd_handle(m->file_.get(), H5P_DEFAULT, &handle) < 0 || !handle) return fail("no driver handle");
  m->probe_ = static_cast<ProbeFile*>(handle);

  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot open " + name + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    return fail("cannot stat " + name);
  }
  void* map = ::mmap(nullptr, std::size_t(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) return fail("cannot map " + name + ": " + std::strerror(map_errno));
  m->map_ = static_cast<const unsigned char*>(map);
  m->map_bytes_ = std::uint64_t(st.st_size);
  m->rank_ = int(data.shape().size());
  return m;
}

ChunkMapping::~ChunkMapping() {
  if (map_) ::munmap(const_cast<unsigned char*>(map_), std::size_t(map_bytes_));
  dataset_.reset();
  file_.reset();
}

std::optional<ChunkMapping::Extent> ChunkMapping::find(const h5::Shape& chunk_offset) const {
  if (int(chunk_offset.size()) != rank_ || rank_ > H5S_MAX_RANK) return std::nullopt;
  hsize_t offset[H5S_MAX_RANK];
  for (int i = 0; i < rank_; ++i) offset[i] = hsize_t(chunk_offset[std::size_t(i)]);
  std::uint32_t filter_mask = 0;
  unsigned char unused = 0;  // the probe copies nothing into it
  probe_->probing = true;
  probe_->raw_reads = 0;
  const herr_t rc = H5Dread_chunk(dataset_.get(), H5P_DEFAULT, offset, &filter_mask, &unused);
  probe_->probing = false;
  if (rc < 0 || probe_->raw_reads != 1 || filter_mask != 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  return Extent{std::uint64_t(probe_->raw_address), std::uint64_t(probe_->raw_bytes)};
}

const unsigned char* ChunkMapping::bytes(std::uint64_t address, std::uint64_t bytes) const {
  if (address > map_bytes_ || bytes > map_bytes_ - address) return nullptr;
  return map_ + address;
}

bool ChunkMapping::prefetch(std::uint64_t address, std::uint64_t bytes) const {
  if (address > map_bytes_ || bytes > map_bytes_ - address) return false;
  static const std::uint64_t page = std::uint64_t(::sysconf(_SC_PAGESIZE));
  const std::uint64_t begin = address / page * page;
  void* at = const_cast<unsigned char*>(map_ + begin);
  const std::size_t length = std::size_t(address + bytes - begin);
  // Maps every page in one call instead of a fault per page or per 16 pages (fault-around): the
  // fastest of no advice, MADV_WILLNEED and this (benchmarks/README.md). It also reports pages that
  // cannot be read (EFAULT beyond the end of a file cut short, EIO), which a plain access would
  // report by SIGBUS. Linux >= 5.14; older kernels refuse it (EINVAL) and take read-ahead.
#ifdef MADV_POPULATE_READ
  if (::madvise(at, length, MADV_POPULATE_READ) == 0) return true;
  if (errno != EINVAL) return false;
#endif
  ::madvise(at, length, MADV_WILLNEED);
  return true;
}

}  // namespace tmdflow::io
