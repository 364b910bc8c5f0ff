/* Instantiates the kernel template FGD_TEMPLATE (a quoted file name) for the
 * element type FGD_T, once per instruction set of _dispatch.h: inside it,
 * FGD_NAME(f) is f FGD_SUFFIX _v0/_v3/_v4 (FGD_SUFFIX: _f or _d) and
 * FGD_DISPATCHED compiles a kernel for that instruction set.  Helpers marked
 * FGD_INLINE are forced inline, so each variant compiles them for its own
 * target.  Included with FGD_T, FGD_SUFFIX and FGD_TEMPLATE defined. */

#define FGD_NAME(f) FGD_PASTE3(f, FGD_SUFFIX, FGD_ISA_SUFFIX)

#define FGD_ISA_SUFFIX _v0
#define FGD_DISPATCHED FGD_UNUSED static
#include FGD_TEMPLATE
#undef FGD_ISA_SUFFIX
#undef FGD_DISPATCHED

#if FGD_DISPATCH
#  define FGD_ISA_SUFFIX _v3
#  define FGD_DISPATCHED __attribute__((target("arch=x86-64-v3"), unused)) static
#  include FGD_TEMPLATE
#  undef FGD_ISA_SUFFIX
#  undef FGD_DISPATCHED

#  define FGD_ISA_SUFFIX _v4
#  define FGD_DISPATCHED __attribute__((target("arch=x86-64-v4,prefer-vector-width=512"), unused)) static
#  include FGD_TEMPLATE
#  undef FGD_ISA_SUFFIX
#  undef FGD_DISPATCHED
#endif

#undef FGD_NAME
