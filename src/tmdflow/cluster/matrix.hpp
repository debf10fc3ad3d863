#pragma once
// Matrices of the cluster layer and the few kernels its algorithms share. Data are row-sharded:
// each rank holds a contiguous block of rows; only small state (k x d, k x k, d x d sums) crosses
// ranks, reduced in double. Inner products run over 8 independent lanes so that the compiler
// vectorises them without -ffast-math (float lanes for per-row products, double lanes for sums over
// rows, which feed cancelling trace identities); several output rows share one pass over an input row.
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::cluster {

using ExecSpace = Kokkos::DefaultExecutionSpace;
using MemSpace = ExecSpace::memory_space;
/// Data and factors (float, row-major).
using Matrix = Kokkos::View<float**, Kokkos::LayoutRight, MemSpace>;
/// Cluster index of each local row.
using Labels = Kokkos::View<int*, MemSpace>;
/// Small reduced state (sums, Gram matrices), accumulated in double.
using Table = Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>;
using Vector = Kokkos::View<double*, MemSpace>;

/// out (n x m) = a (n x d) * b^T (b is m x d): one row of `a` against every row of `b`.
/// Local (no communication). Kernel "tmdflow::cluster::multiply_transposed".
void multiply_transposed(const Matrix& a, const Matrix& b, const Matrix& out);

/// a^T b summed over the rows of every rank: a is n_local x k, b is n_local x d, the result k x d
/// (identical on all ranks). Kernel "tmdflow::cluster::transposed_multiply".
Table transposed_multiply(const par::Comm& comm, const Matrix& a, const Matrix& b);

/// (x - shift)^T (x - shift) summed over every rank's rows (d x d, symmetric); `shift` (d values)
/// may be empty for no shift. Only the upper triangle is computed. Kernel "tmdflow::cluster::gram".
Table gram(const par::Comm& comm, const Matrix& x, const std::vector<float>& shift = {});

/// h h^T of a replicated k x d matrix (k x k, local, double). Kernel "tmdflow::cluster::row_gram".
Table row_gram(const Matrix& h);

/// Column sums over every rank's rows (d values, double). Kernel "tmdflow::cluster::column_sums".
std::vector<double> column_sums(const par::Comm& comm, const Matrix& x);

/// Sum of squares of all entries over every rank. Kernel "tmdflow::cluster::squared_norm".
double squared_norm(const par::Comm& comm, const Matrix& x);

/// Squared norm of each row (local). Kernel "tmdflow::cluster::row_squared_norms".
Kokkos::View<float*, MemSpace> row_squared_norms(const Matrix& x);

/// Smallest entry over every rank (+infinity when there are no entries).
float global_min(const par::Comm& comm, const Matrix& x);

/// Rows over all ranks.
std::int64_t global_rows(const par::Comm& comm, const Matrix& x);

/// Row blocks that a reduction kernel works on in parallel, each with its own accumulator (one on
/// the Serial backend), and the first row of block p.
int reduction_parts(std::int64_t rows);
KOKKOS_INLINE_FUNCTION std::int64_t part_begin(std::int64_t rows, int parts, int p) { return rows * p / parts; }

/// Host copies (row-major) and back, for the small replicated matrices.
std::vector<double> to_host(const Table& t);
std::vector<float> to_host(const Matrix& m);
Matrix to_matrix(const std::vector<double>& values, std::int64_t rows, std::int64_t cols, const std::string& label);
Matrix to_matrix(const std::vector<float>& values, std::int64_t rows, std::int64_t cols, const std::string& label);

}  // namespace tmdflow::cluster
