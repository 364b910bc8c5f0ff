/* Run-time choice of the instruction set the kernels of fastgd_core run with.
 *
 * With GCC on x86-64 every kernel marked FGD_DISPATCHED is compiled three
 * times (_instances.h instantiates its template once per instruction set):
 *
 *   FGD_ISA_BASELINE  the build's target (x86-64: SSE2),      name suffix _v0
 *   FGD_ISA_AVX2      x86-64-v3: AVX2 + FMA, 256-bit vectors, suffix _v3
 *   FGD_ISA_AVX512    x86-64-v4: AVX-512 F/BW/DQ/VL, 512-bit vectors, suffix _v4
 *
 * and FGD_ISA_CALL calls the variant selected by fgd_isa.  Each extension
 * module has its own fgd_isa; fastgd_core.use_simd sets all of them (the
 * best variant the CPU supports unless FASTGD_SIMD names another), and a
 * variant the CPU lacks is refused, never run.  Define FASTGD_NO_DISPATCH
 * (or build with another compiler) to compile the baseline variant only.
 * The variants' results differ by rounding only (FMA contraction, and the
 * order of a few float additions inside a vector).
 */
#ifndef FASTGD_DISPATCH_H
#define FASTGD_DISPATCH_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FASTGD_NO_DISPATCH)
#  define FGD_DISPATCH 1
#else
#  define FGD_DISPATCH 0
#endif

#if defined(__GNUC__)
#  define FGD_UNUSED __attribute__((unused))
#else
#  define FGD_UNUSED
#endif

#define FGD_ISA_BASELINE 0
#define FGD_ISA_AVX2 1
#define FGD_ISA_AVX512 2
#define FGD_N_ISA 3

/* The variant this module's kernels run with (set by fgd_set_isa). */
static int fgd_isa = FGD_ISA_BASELINE;

/* Whether this build has variant isa and this CPU (and its OS) can run it. */
static inline int fgd_isa_supported(int isa)
{
#if FGD_DISPATCH
    __builtin_cpu_init();
    if (isa == FGD_ISA_AVX2)
        return __builtin_cpu_supports("x86-64-v3");
    if (isa == FGD_ISA_AVX512)
        return __builtin_cpu_supports("x86-64-v4");
#endif
    return isa == FGD_ISA_BASELINE;
}

/* Selects variant isa for this module's kernels; returns 0, or -1 (nothing changed) when unsupported. */
static inline int fgd_set_isa(int isa)
{
    if (!fgd_isa_supported(isa))
        return -1;
    fgd_isa = isa;
    return 0;
}

#if FGD_DISPATCH
#  define FGD_ISA_CALL(name, ...)                                                                        \
      (fgd_isa == FGD_ISA_AVX512 ? name##_v4(__VA_ARGS__)                                                \
       : fgd_isa == FGD_ISA_AVX2 ? name##_v3(__VA_ARGS__) : name##_v0(__VA_ARGS__))
#  define FGD_ISA_TABLE(name) {name##_v0, name##_v3, name##_v4}
#else
#  define FGD_ISA_CALL(name, ...) name##_v0(__VA_ARGS__)
#  define FGD_ISA_TABLE(name) {name##_v0, name##_v0, name##_v0}
#endif

#define FGD_PASTE3_(a, b, c) a##b##c
#define FGD_PASTE3(a, b, c) FGD_PASTE3_(a, b, c)

#endif /* FASTGD_DISPATCH_H */
