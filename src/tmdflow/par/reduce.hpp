#pragma once
// The one helper that reduces Kokkos Views across ranks: local work is fenced, the View's data
// are reduced in place with MPI_Allreduce (through a host mirror when the View lives on a device).
#include <Kokkos_Core.hpp>

#include "tmdflow/core/error.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::par {

template <class View>
void allreduce_view(const Comm& comm, const View& view, Op op) {
  static_assert(Kokkos::is_view<View>::value, "allreduce_view takes a Kokkos::View");
  using value_type = typename View::non_const_value_type;
  Kokkos::fence();
  if (comm.size() == 1) return;
  if (!view.span_is_contiguous())
    throw Error("allreduce_view: the View '" + view.label() + "' is not contiguous", ExitCode::failure);
  auto host = Kokkos::create_mirror_view(view);
  Kokkos::deep_copy(host, view);
  comm.allreduce_inplace(reinterpret_cast<value_type*>(host.data()), host.span(), op);
  Kokkos::deep_copy(view, host);
}

}  // namespace tmdflow::par
