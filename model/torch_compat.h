// The one place that knows how the libtorch releases qgrid builds against
// differ: Debian's libtorch-dev 1.13 (build/, CPU) and the PyTorch 2.x
// wheel's libtorch (build-cuda/, deploy/build.sh --cuda). Code that uses a
// name listed here includes this header instead of working around the
// difference itself; add new differences here, each with its note.
//
// - at::NoGradGuard (ATen/core/grad_mode.h): ATen/ATen.h includes it in
//   1.13 but no longer in 2.x; the header and the name exist in both.
#ifndef QGRID_MODEL_TORCH_COMPAT_H_
#define QGRID_MODEL_TORCH_COMPAT_H_

#include <ATen/core/grad_mode.h>

#endif  // QGRID_MODEL_TORCH_COMPAT_H_
