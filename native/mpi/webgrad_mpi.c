/*
 * webgrad_mpi: a small Node-API addon over MPI for src/parallel/node/mpi-collective.ts.
 *
 * Every MPI call runs on one dedicated thread that this addon starts (MPI_Init_thread there too, so
 * MPI_THREAD_FUNNELED suffices); JavaScript queues jobs and gets each answer back as a promise through a
 * thread-safe function. The JS thread never blocks in MPI, so its timers run while a collective waits.
 * Why not napi async work: it runs on libuv's thread pool, whose pending requests keep the event loop
 * alive and whose threads are joined when the process exits; a call stuck on a dead rank would then keep
 * the survivor from ever exiting. Our thread is detached, and the thread-safe function is unref'd unless JS
 * holds it (keepAlive), so a process whose collective timed out can still end.
 *
 * allreduce is deterministic: a reduce-scatter in rank order (MPI_Alltoallv: rank j receives slice j of every
 * rank's array and sums the K parts in rank order starting from +0) and an all-gather (MPI_Allgatherv).
 * Each element is summed once, on one rank, in the order 0 + x0 + x1 + … + x(K-1), so every rank gets the
 * same bits as the in-process group, whatever algorithms Open MPI's collectives pick.
 *
 * Before every operation the ranks exchange (operation, length, root, call number) with MPI_Allgather, so a
 * rank that called something else is named instead of corrupting data or hanging.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <mpi.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum op { OP_INIT, OP_ALLREDUCE, OP_BROADCAST, OP_BARRIER, OP_FINALIZE };
static const char *const OP_NAMES[] = {"init", "allReduce", "broadcast", "barrier", "finalize"};

typedef struct job {
  enum op op;
  float *data;
  int64_t n;
  int root;
  napi_ref keep; /* holds the typed array while the MPI thread uses its memory */
  napi_deferred deferred;
  int ok;
  int recoverable; /* every rank rejected this same call and MPI is still in step (a disagreement) */
  char message[768];
  struct job *next;
} job_t;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_ready = PTHREAD_COND_INITIALIZER;
static job_t *queue_head, *queue_tail;
static napi_threadsafe_function tsfn;
static int started;  /* the MPI thread exists (JS thread only) */
static int finished; /* finalize was queued (JS thread only) */
static int released; /* the thread-safe function was released after finalize (JS thread only) */
static int pending;  /* jobs queued and not yet answered: while > 0 the event loop stays alive (JS thread only) */
static int detached; /* release() was called: pending jobs no longer keep the loop alive (JS thread only) */

/* written by the MPI thread before it answers OP_INIT, read by JS after the answer */
static MPI_Comm comm = MPI_COMM_NULL;
static int world_rank = -1, world_size = 0, thread_level = -1;
static char library_version[MPI_MAX_LIBRARY_VERSION_STRING];
static int64_t call_count;

/* ---- the MPI thread ---- */

static int fail(job_t *job, const char *what, int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "error code %d", rc);
  else text[length] = '\0';
  snprintf(job->message, sizeof job->message, "%s failed: %s", what, text);
  job->ok = 0;
  return 0;
}

/* "allReduce(1000)" or "broadcast(1000, root 1)" for messages */
static void describe(char *out, size_t size, const int64_t *call) {
  const char *name = call[0] >= 0 && call[0] <= OP_FINALIZE ? OP_NAMES[call[0]] : "?";
  if (call[0] == OP_BROADCAST) snprintf(out, size, "%s(%lld, root %lld)", name, (long long)call[1], (long long)call[2]);
  else if (call[0] == OP_BARRIER) snprintf(out, size, "%s()", name);
  else snprintf(out, size, "%s(%lld)", name, (long long)call[1]);
}

/* every rank must be making the same call: exchange (op, n, root, call number) and compare with rank 0's */
static int agree(job_t *job) {
  int64_t mine[4] = {job->op, job->n, job->root, call_count++};
  int64_t *all = malloc(sizeof(int64_t) * 4 * (size_t)world_size);
  if (!all) {
    snprintf(job->message, sizeof job->message, "out of memory");
    return job->ok = 0;
  }
  int rc = MPI_Allgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, comm);
  if (rc != MPI_SUCCESS) {
    free(all);
    return fail(job, "MPI_Allgather (call check)", rc);
  }
  for (int r = 1; r < world_size; r++) {
    const int64_t *theirs = all + 4 * r;
    if (memcmp(theirs, all, sizeof(int64_t) * 3) != 0) {
      char a[96], b[96];
      describe(a, sizeof a, theirs);
      describe(b, sizeof b, all);
      snprintf(job->message, sizeof job->message, "ranks disagree: rank %d called %s as call %lld, but rank 0 called %s as call %lld", r, a,
               (long long)theirs[3], b, (long long)all[3]);
      free(all);
      job->recoverable = 1;
      return job->ok = 0;
    }
  }
  free(all);
  return 1;
}

/* at most this many floats per round, so the scratch buffer and MPI's int counts stay bounded
   (env WEBGRAD_MPI_round_floats lowers it, for the tests of arrays split over several rounds) */
static int64_t round_floats = (int64_t)1 << 26;

static void allreduce(job_t *job) {
  const int K = world_size;
  int *counts = malloc(sizeof(int) * 4 * (size_t)K);
  if (!counts) {
    snprintf(job->message, sizeof job->message, "out of memory");
    job->ok = 0;
    return;
  }
  int *displs = counts + K, *recv_counts = counts + 2 * K, *recv_displs = counts + 3 * K;
  float *scratch = NULL;
  for (int64_t start = 0; start < job->n; start += round_floats) {
    int64_t len = job->n - start < round_floats ? job->n - start : round_floats;
    float *data = job->data + start;
    /* slice j of this round: floor(len/K) floats, one more for the first len%K ranks */
    int base = (int)(len / K), extra = (int)(len % K), offset = 0;
    for (int j = 0; j < K; j++) {
      counts[j] = base + (j < extra ? 1 : 0);
      displs[j] = offset;
      offset += counts[j];
    }
    const int mine = counts[world_rank];
    for (int i = 0; i < K; i++) {
      recv_counts[i] = mine;
      recv_displs[i] = i * mine;
    }
    if (!scratch) scratch = malloc(sizeof(float) * ((size_t)(round_floats / K + 1) * (size_t)K + 1));
    if (!scratch) {
      snprintf(job->message, sizeof job->message, "out of memory for a %lld-float scratch buffer", (long long)(round_floats + K));
      job->ok = 0;
      break;
    }
    int rc = MPI_Alltoallv(data, counts, displs, MPI_FLOAT, scratch, recv_counts, recv_displs, MPI_FLOAT, comm);
    if (rc != MPI_SUCCESS) {
      fail(job, "MPI_Alltoallv (reduce-scatter)", rc);
      break;
    }
    float *slice = data + displs[world_rank];
    for (int e = 0; e < mine; e++) {
      float total = 0.0f; /* +0 first, as the in-process group: (+0) + (-0) is +0 */
      for (int i = 0; i < K; i++) total += scratch[(size_t)i * (size_t)mine + (size_t)e];
      slice[e] = total;
    }
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts, displs, MPI_FLOAT, comm);
    if (rc != MPI_SUCCESS) {
      fail(job, "MPI_Allgatherv (all-gather)", rc);
      break;
    }
  }
  free(scratch);
  free(counts);
}

static void broadcast(job_t *job) {
  for (int64_t start = 0; start < job->n; start += round_floats) {
    int64_t len = job->n - start < round_floats ? job->n - start : round_floats;
    int rc = MPI_Bcast(job->data + start, (int)len, MPI_FLOAT, job->root, comm);
    if (rc != MPI_SUCCESS) {
      fail(job, "MPI_Bcast", rc);
      return;
    }
  }
}

static void run(job_t *job) {
  job->ok = 1;
  int rc;
  switch (job->op) {
    case OP_INIT: {
      int flag = 0;
      MPI_Initialized(&flag);
      if (!flag && (rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &thread_level)) != MPI_SUCCESS) {
        fail(job, "MPI_Init_thread", rc);
        return;
      }
      if (flag) MPI_Query_thread(&thread_level);
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      /* our own communicator, so a program's other MPI traffic never matches ours */
      if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm)) != MPI_SUCCESS) {
        fail(job, "MPI_Comm_dup", rc);
        return;
      }
      MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
      const char *round = getenv("WEBGRAD_MPI_round_floats");
      if (round && atoll(round) > 0 && atoll(round) < round_floats) round_floats = atoll(round);
      MPI_Comm_rank(comm, &world_rank);
      MPI_Comm_size(comm, &world_size);
      int length = 0;
      MPI_Get_library_version(library_version, &length);
      library_version[length < MPI_MAX_LIBRARY_VERSION_STRING ? length : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
      return;
    }
    case OP_ALLREDUCE:
      if (agree(job)) allreduce(job);
      return;
    case OP_BROADCAST:
      if (agree(job)) broadcast(job);
      return;
    case OP_BARRIER:
      if (agree(job) && (rc = MPI_Barrier(comm)) != MPI_SUCCESS) fail(job, "MPI_Barrier", rc);
      return;
    case OP_FINALIZE:
      if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
      if ((rc = MPI_Finalize()) != MPI_SUCCESS) fail(job, "MPI_Finalize", rc);
      return;
  }
}

static void *mpi_thread(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&queue_lock);
    while (!queue_head) pthread_cond_wait(&queue_ready, &queue_lock);
    job_t *job = queue_head;
    queue_head = job->next;
    if (!queue_head) queue_tail = NULL;
    pthread_mutex_unlock(&queue_lock);
    run(job);
    enum op op = job->op;
    napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking);
    if (op == OP_FINALIZE) return NULL; /* answer() releases the thread-safe function */
  }
}

/* ---- the JS thread ---- */

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, NULL, "webgrad_mpi: Node-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

/* answers a job on the JS thread: resolve or reject its promise */
static void answer(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  job_t *job = data;
  if (--pending == 0 && env && !detached && !released) napi_unref_threadsafe_function(env, tsfn);
  if (env) {
    if (job->keep) napi_delete_reference(env, job->keep);
    if (job->ok) {
      napi_value value;
      if (job->op == OP_INIT) {
        napi_value v;
        napi_create_object(env, &value);
        napi_create_int32(env, world_rank, &v);
        napi_set_named_property(env, value, "rank", v);
        napi_create_int32(env, world_size, &v);
        napi_set_named_property(env, value, "size", v);
        napi_create_int32(env, thread_level, &v);
        napi_set_named_property(env, value, "threadLevel", v);
        napi_create_string_utf8(env, library_version, NAPI_AUTO_LENGTH, &v);
        napi_set_named_property(env, value, "library", v);
      } else {
        napi_get_undefined(env, &value);
      }
      napi_resolve_deferred(env, job->deferred, value);
    } else {
      napi_value message, error;
      napi_create_string_utf8(env, job->message, NAPI_AUTO_LENGTH, &message);
      napi_create_error(env, NULL, message, &error);
      if (job->recoverable) {
        napi_value yes;
        napi_get_boolean(env, true, &yes);
        napi_set_named_property(env, error, "recoverable", yes);
      }
      napi_reject_deferred(env, job->deferred, error);
    }
  }
  if (job->op == OP_FINALIZE && !released) {
    released = 1;
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  }
  free(job);
}

static napi_value submit(napi_env env, enum op op, napi_value array, float *data, int64_t n, int root) {
  if (finished) {
    napi_throw_error(env, NULL, "webgrad_mpi: MPI was finalized; it cannot be used again in this process");
    return NULL;
  }
  if (!started && op != OP_INIT) {
    napi_throw_error(env, NULL, "webgrad_mpi: call init() first");
    return NULL;
  }
  if (!started) {
    napi_value name;
    CHECK(napi_create_string_utf8(env, "webgrad_mpi", NAPI_AUTO_LENGTH, &name));
    CHECK(napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, answer, &tsfn));
    CHECK(napi_unref_threadsafe_function(env, tsfn));
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, mpi_thread, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      napi_throw_error(env, NULL, "webgrad_mpi: could not start the MPI thread");
      return NULL;
    }
    started = 1;
  }
  job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "webgrad_mpi: out of memory");
    return NULL;
  }
  job->op = op;
  job->data = data;
  job->n = n;
  job->root = root;
  if (array) CHECK(napi_create_reference(env, array, 1, &job->keep));
  napi_value promise;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  if (op == OP_FINALIZE) finished = 1;
  if (pending++ == 0 && !detached) CHECK(napi_ref_threadsafe_function(env, tsfn));
  pthread_mutex_lock(&queue_lock);
  if (queue_tail) queue_tail->next = job;
  else queue_head = job;
  queue_tail = job;
  pthread_cond_signal(&queue_ready);
  pthread_mutex_unlock(&queue_lock);
  return promise;
}

/* the Float32Array argument at args[0], with its data pointer and length */
static int float_array(napi_env env, napi_value value, float **data, int64_t *n, const char *fn) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *pointer = NULL;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, &length, &pointer, NULL, NULL) != napi_ok || type != napi_float32_array) {
    char text[128];
    snprintf(text, sizeof text, "webgrad_mpi.%s: expected a Float32Array", fn);
    napi_throw_type_error(env, NULL, text);
    return 0;
  }
  if (!pointer && length > 0) {
    char text[128];
    snprintf(text, sizeof text, "webgrad_mpi.%s: the Float32Array's buffer is detached", fn);
    napi_throw_type_error(env, NULL, text);
    return 0;
  }
  *data = pointer;
  *n = (int64_t)length;
  return 1;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  (void)info;
  if (started) {
    napi_throw_error(env, NULL, "webgrad_mpi: init() was already called in this process");
    return NULL;
  }
  return submit(env, OP_INIT, NULL, NULL, 0, 0);
}

static napi_value js_allreduce(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *data;
  int64_t n;
  if (argc < 1 || !float_array(env, argv[0], &data, &n, "allreduce")) return NULL;
  return submit(env, OP_ALLREDUCE, argv[0], data, n, 0);
}

static napi_value js_broadcast(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *data;
  int64_t n;
  int32_t root = 0;
  if (argc < 1 || !float_array(env, argv[0], &data, &n, "broadcast")) return NULL;
  if (argc > 1 && napi_get_value_int32(env, argv[1], &root) != napi_ok) {
    napi_throw_type_error(env, NULL, "webgrad_mpi.broadcast: root must be a number");
    return NULL;
  }
  if (started && world_size > 0 && (root < 0 || root >= world_size)) {
    napi_throw_range_error(env, NULL, "webgrad_mpi.broadcast: root out of range");
    return NULL;
  }
  return submit(env, OP_BROADCAST, argv[0], data, n, root);
}

static napi_value js_barrier(napi_env env, napi_callback_info info) {
  (void)info;
  return submit(env, OP_BARRIER, NULL, NULL, 0, 0);
}

static napi_value js_finalize(napi_env env, napi_callback_info info) {
  (void)info;
  return submit(env, OP_FINALIZE, NULL, NULL, 0, 0);
}

/* release(): pending answers stop keeping the event loop alive (after a timeout: the thread may never answer) */
static napi_value js_release(napi_env env, napi_callback_info info) {
  (void)info;
  if (started && !released && !detached) napi_unref_threadsafe_function(env, tsfn);
  detached = 1;
  return NULL;
}

/* MPI_Abort on the whole job (called from the JS thread: the MPI thread may be stuck in a collective) */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code = 1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc > 0) napi_get_value_int32(env, argv[0], &code);
  fflush(stdout);
  fflush(stderr);
  int flag = 0;
  MPI_Initialized(&flag);
  if (flag) MPI_Abort(MPI_COMM_WORLD, code);
  _exit(code);
}

static napi_value init_module(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"allreduce", NULL, js_allreduce, NULL, NULL, NULL, napi_default, NULL},
      {"broadcast", NULL, js_broadcast, NULL, NULL, NULL, napi_default, NULL},
      {"barrier", NULL, js_barrier, NULL, NULL, NULL, napi_default, NULL},
      {"finalize", NULL, js_finalize, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(webgrad_mpi, init_module)
