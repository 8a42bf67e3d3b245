/*
 * flexolmo_blas: one Node-API function that runs a (batched) single-precision matrix product with
 * the machine's BLAS, directly on the memory of TF.js's wasm backend.
 *
 * Why: the wasm backend is single-threaded and its best matMul (XNNPACK, 128-bit SIMD) reaches
 * ~15-20 GFLOP/s on one core; an optimised native sgemm (OpenBLAS) uses every core and the CPU's
 * full vector width. The wasm heap is an ordinary ArrayBuffer, so the kernel in lib/ops/blas.ts
 * passes it here with byte offsets and the product is written in place: no copies.
 *
 * The BLAS is loaded with dlopen at first use (libopenblas.so.0 by default, or the path in
 * FLEXOLMO_BLAS_LIB), so this file compiles with nothing but a C compiler and Node's headers; no
 * -dev package is needed to build it.
 *
 * sgemm(heap: Float32Array, aOff, bOff, cOff, batch, strideA, strideB, M, N, K, transA, transB)
 *   offsets and strides in float32 elements (not bytes); row-major; C[i] = op(A[i]) · op(B[i]),
 *   where a stride of 0 broadcasts one matrix over the batch. Returns undefined.
 * info() -> { library, threads, config, coretypeHint }   (throws with the dlopen error if no BLAS loads)
 * setThreads(n)
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

/* cblas enums (values fixed by the CBLAS standard). */
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

static sgemm_fn cblas_sgemm_p = NULL;
static set_threads_fn set_threads_p = NULL;
static get_threads_fn get_threads_p = NULL;
static get_config_fn get_config_p = NULL;
static char lib_name[512] = "";
static char load_error[1024] = "";

/*
 * OpenBLAS picks its kernels from the CPU model, and 0.3.21 (Debian 12) does not know recent
 * virtualised Xeons: on this project's CI machine (Sapphire Rapids, AVX-512) it fell back to
 * "Prescott" kernels and ran a 1024^3 product at 19 GFLOP/s instead of 65+. So unless the user
 * chose one, we name the kernel family from the CPU's feature flags before the library loads:
 * AVX-512 (F/BW/DQ/VL/CD) -> SkylakeX, AVX2 + FMA -> Haswell. Those are the families OpenBLAS's own
 * detection picks for such CPUs when it recognises them. Other BLAS libraries ignore the variable.
 */
static const char *coretype_hint = "";
static void hint_openblas_coretype(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (getenv("OPENBLAS_CORETYPE")) return;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512cd"))
    coretype_hint = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    coretype_hint = "Haswell";
  if (coretype_hint[0]) setenv("OPENBLAS_CORETYPE", coretype_hint, 0);
#endif
}

static int load_blas(void) {
  if (cblas_sgemm_p) return 1;
  if (load_error[0]) return 0;
  hint_openblas_coretype();
  const char *env = getenv("FLEXOLMO_BLAS_LIB");
  const char *candidates[] = {env, "libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.3.21.so", NULL};
  char errors[1024] = "";
  for (int i = 0; i < 4; i++) {
    const char *name = candidates[i];
    if (!name || !name[0]) continue;
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char *e = dlerror();
      size_t used = strlen(errors);
      snprintf(errors + used, sizeof errors - used, "%s%s", used ? "; " : "", e ? e : name);
      if (env && name == env) break; /* an explicit choice that fails is not silently replaced */
      continue;
    }
    sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!f) {
      size_t used = strlen(errors);
      snprintf(errors + used, sizeof errors - used, "%s%s has no cblas_sgemm", used ? "; " : "", name);
      dlclose(h);
      continue;
    }
    cblas_sgemm_p = f;
    set_threads_p = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    get_threads_p = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    get_config_p = (get_config_fn)dlsym(h, "openblas_get_config");
    snprintf(lib_name, sizeof lib_name, "%s", name);
    return 1;
  }
  snprintf(load_error, sizeof load_error, "no BLAS library could be loaded (%s)", errors[0] ? errors : "no candidates");
  return 0;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "flexolmo_blas: " #call " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_msg(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value Sgemm(napi_env env, napi_callback_info cb) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, cb, &argc, argv, NULL, NULL));
  if (argc != 12) return throw_msg(env, "flexolmo_blas.sgemm: expected 12 arguments");
  if (!load_blas()) return throw_msg(env, load_error);

  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value ab;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &byte_offset) != napi_ok || type != napi_float32_array)
    return throw_msg(env, "flexolmo_blas.sgemm: the first argument must be a Float32Array over the heap");
  double v[11];
  for (int i = 0; i < 11; i++) CHECK(napi_get_value_double(env, argv[i + 1], &v[i]));
  int64_t aOff = (int64_t)v[0], bOff = (int64_t)v[1], cOff = (int64_t)v[2];
  int64_t batch = (int64_t)v[3], sA = (int64_t)v[4], sB = (int64_t)v[5];
  int64_t M = (int64_t)v[6], N = (int64_t)v[7], K = (int64_t)v[8];
  int tA = v[9] != 0, tB = v[10] != 0;
  if (M < 0 || N < 0 || K < 0 || batch < 0 || aOff < 0 || bOff < 0 || cOff < 0 || sA < 0 || sB < 0)
    return throw_msg(env, "flexolmo_blas.sgemm: negative size or offset");
  /* Bounds: every matrix touched must lie inside the heap view. */
  int64_t n = (int64_t)length;
  if (batch > 0 && (aOff + (batch - 1) * sA + M * K > n || bOff + (batch - 1) * sB + K * N > n || cOff + batch * M * N > n))
    return throw_msg(env, "flexolmo_blas.sgemm: an operand lies outside the heap");
  const float *base = (const float *)data;
  float *out = (float *)data;
  int lda = tA ? (int)M : (int)K, ldb = tB ? (int)K : (int)N;
  for (int64_t i = 0; i < batch; i++) {
    float *c = out + cOff + i * M * N;
    if (K == 0) {
      memset(c, 0, (size_t)(M * N) * sizeof(float));
      continue;
    }
    cblas_sgemm_p(RowMajor, tA ? Trans : NoTrans, tB ? Trans : NoTrans, (int)M, (int)N, (int)K, 1.0f, base + aOff + i * sA, lda > 0 ? lda : 1,
                  base + bOff + i * sB, ldb > 0 ? ldb : 1, 0.0f, c, N > 0 ? (int)N : 1);
  }
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info cb) {
  (void)cb;
  if (!load_blas()) return throw_msg(env, load_error);
  napi_value obj, s, t, c;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, lib_name, NAPI_AUTO_LENGTH, &s));
  CHECK(napi_set_named_property(env, obj, "library", s));
  CHECK(napi_create_int32(env, get_threads_p ? get_threads_p() : 0, &t));
  CHECK(napi_set_named_property(env, obj, "threads", t));
  CHECK(napi_create_string_utf8(env, get_config_p ? get_config_p() : "", NAPI_AUTO_LENGTH, &c));
  CHECK(napi_set_named_property(env, obj, "config", c));
  CHECK(napi_create_string_utf8(env, coretype_hint, NAPI_AUTO_LENGTH, &c));
  CHECK(napi_set_named_property(env, obj, "coretypeHint", c));
  return obj;
}

static napi_value SetThreads(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, cb, &argc, argv, NULL, NULL));
  if (!load_blas()) return throw_msg(env, load_error);
  int32_t n;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) return throw_msg(env, "flexolmo_blas.setThreads: expected a positive integer");
  if (set_threads_p) set_threads_p(n);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, 3, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
