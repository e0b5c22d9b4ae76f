/*
 * webgrad_mpi: a small Node-API addon over MPI for src/parallel/node/mpi-collective.ts.
 *
 * Every MPI call runs on one dedicated thread that this addon starts (MPI_Init_thread there too, so
 * MPI_THREAD_FUNNELED suffices); JavaScript queues jobs and gets each answer back as a promise through a
 * thread-safe function. The JS thread never blocks in MPI, so its timers run while a collective waits.
 * Why not napi async work: it runs on libuv's thread pool, whose pending requests keep the event loop
 * alive and whose threads are joined when the process exits; a call stuck on a dead rank would then keep
 * the survivor from ever exiting. Our thread is detached, and the thread-safe function is unref'd once JS
 * calls release(), so a process whose collective failed can always end.
 *
 * The collectives are MPI-3's nonblocking ones, completed by polling: MPI_Test and sched_yield (each test moves
 * the transfer on), and after a second without completion 50 us sleeps between tests, so a rank that waits
 * for a slow one leaves the cores to it. Between
 * tests the thread also looks for an abort: abort(reason) from JS sends the reason to every other rank on a
 * communicator of its own, and a rank that receives one fails its pending and later calls naming the sender.
 *
 * allreduce is deterministic: a reduce-scatter in rank order (MPI_Ialltoallv: rank j receives slice j of every
 * rank's array and sums the K parts in rank order starting from +0) and an all-gather (MPI_Iallgatherv).
 * Each element is summed once, on one rank, in the order 0 + x0 + x1 + … + x(K-1), so every rank gets the
 * same bits as the in-process group, whatever algorithms the MPI library's collectives pick (Open MPI 4.1's
 * MPI_Allreduce does not sum in rank order at 4 ranks).
 *
 * Before every operation the ranks exchange (operation, length, root, call number) with MPI_Iallgather, so a
 * rank that called something else is named instead of corrupting data or hanging.
 *
 * Channels: channel 0 is the communicator init() makes; openChannel(id) (itself an operation on channel 0)
 * duplicates it into channel id, served by a thread of its own, so that two streams of collectives whose order
 * interleaves differently on each rank (gradient buckets and synchronised BatchNorm's statistics) never wait
 * for each other. That needs MPI_THREAD_MULTIPLE.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <mpi.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum op { OP_INIT, OP_ALLREDUCE, OP_BROADCAST, OP_BARRIER, OP_FINALIZE, OP_CHANNEL };
static const char *const OP_NAMES[] = {"init", "allReduce", "broadcast", "barrier", "finalize", "openChannel"};

/* one stream of operations: its communicator, its queue and its thread */
#define MAX_CHANNELS 16
typedef struct channel {
  pthread_mutex_t lock;
  pthread_cond_t ready;
  struct job *head, *tail;
  MPI_Comm comm;
  int64_t call_count;
} channel_t;
static channel_t channels[MAX_CHANNELS];
static int channel_open[MAX_CHANNELS]; /* JS thread only: answered openChannel (channel 0: init started) */

typedef struct job {
  channel_t *channel;
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

static napi_threadsafe_function tsfn;
static int started;  /* channel 0's MPI thread exists (JS thread only) */
static int finished; /* finalize was queued (JS thread only) */
static int released; /* the thread-safe function was released after finalize (JS thread only) */
static int pending;  /* jobs queued and not yet answered: while > 0 the event loop stays alive (JS thread only) */
static int detached; /* release() was called: pending jobs no longer keep the loop alive (JS thread only) */

/* written by channel 0's thread before it answers OP_INIT, read by JS and the other threads after */
static int world_rank = -1, world_size = 0, thread_level = -1;
static char library_version[MPI_MAX_LIBRARY_VERSION_STRING];

/* the abort channel: its own communicator, one receive always posted for a reason from any rank */
#define ABORT_TAG 7
#define REASON_LENGTH 512
static MPI_Comm abort_comm = MPI_COMM_NULL;
static MPI_Request abort_receive = MPI_REQUEST_NULL;
static char reason_in[REASON_LENGTH];
static char group_failure[768]; /* set once the group failed (under failure_lock): later calls fail with it */
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;
/* a request was left unfinished when the group failed: MPI may still write into its buffers, so they are
   never freed (nor the typed array's reference dropped) from then on */
static atomic_int abandoned;

/* abort(reason) from JS: the reason, then the flag (release/acquire), then the MPI thread sends it */
static char reason_out[REASON_LENGTH];
static atomic_int abort_requested;

/* ---- the MPI thread ---- */

static int fail(job_t *job, const char *what, int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "error code %d", rc);
  else text[length] = '\0';
  snprintf(job->message, sizeof job->message, "%s failed: %s", what, text);
  pthread_mutex_lock(&failure_lock);
  if (!group_failure[0]) snprintf(group_failure, sizeof group_failure, "%s", job->message);
  pthread_mutex_unlock(&failure_lock);
  job->ok = 0;
  return 0;
}

/* sends the JS thread's abort reason to every other rank (once; under failure_lock); the sends finish in the background */
static void send_abort(void) {
  static int sent;
  if (sent || !atomic_load_explicit(&abort_requested, memory_order_acquire)) return;
  sent = 1;
  if (!group_failure[0]) snprintf(group_failure, sizeof group_failure, "rank %d aborted: %s", world_rank, reason_out);
  if (abort_comm == MPI_COMM_NULL) return;
  MPI_Request *requests = calloc((size_t)world_size, sizeof(MPI_Request));
  if (!requests) return;
  for (int r = 0; r < world_size; r++) {
    requests[r] = MPI_REQUEST_NULL;
    if (r != world_rank) MPI_Isend(reason_out, (int)strlen(reason_out) + 1, MPI_CHAR, r, ABORT_TAG, abort_comm, &requests[r]);
  }
  /* push them out for up to 0.2 s (the process may end soon); a dead rank never takes its copy, which is fine */
  int done = 0;
  for (int i = 0; i < 2000 && !done; i++) {
    MPI_Testall(world_size, requests, &done, MPI_STATUSES_IGNORE);
    if (!done) usleep(100);
  }
  for (int r = 0; r < world_size; r++)
    if (requests[r] != MPI_REQUEST_NULL) MPI_Request_free(&requests[r]);
  free(requests);
}

/* 1 once the group failed: an abort from JS (sent now) or from another rank, or an earlier error; copies the
   reason into `message` (when given) */
static int group_failed(char *message, size_t size) {
  pthread_mutex_lock(&failure_lock);
  send_abort();
  if (!group_failure[0] && abort_receive != MPI_REQUEST_NULL) {
    int got = 0;
    MPI_Status status;
    if (MPI_Test(&abort_receive, &got, &status) == MPI_SUCCESS && got) {
      reason_in[REASON_LENGTH - 1] = '\0';
      snprintf(group_failure, sizeof group_failure, "rank %d aborted: %s", status.MPI_SOURCE, reason_in);
    }
  }
  int failed = group_failure[0] != '\0';
  if (failed && message) snprintf(message, size, "%s", group_failure);
  pthread_mutex_unlock(&failure_lock);
  return failed;
}

/* seconds on a monotonic clock */
static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* how to wait between tests: env WEBGRAD_MPI_POLL = spin, yield (default) or sleep; after spin_seconds without
   completion every mode sleeps (a rank that waits long waits for a slow or lost one: leave it the cores) */
static int poll_mode = 1;
static const double spin_seconds = 1.0;

/* completes a nonblocking operation by polling, unless the group fails first (then the request is left) */
static int wait_for(job_t *job, MPI_Request *request, const char *what) {
  const double start = seconds();
  const struct timespec nap = {0, 50000};
  int late = poll_mode == 2;
  for (long tests = 0;; tests++) {
    int done = 0;
    int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return fail(job, what, rc);
    if (done) return 1;
    if ((tests & 63) == 0 && group_failed(job->message, sizeof job->message)) {
      atomic_store(&abandoned, 1);
      return job->ok = 0;
    }
    /* each test moves the transfer on (Open MPI progresses nonblocking collectives only inside MPI calls), so
       sleeping between tests would cut the bandwidth of large messages: yield instead, sleep only late */
    if (!late && (tests & 1023) == 1023 && seconds() - start > spin_seconds) late = 1;
    if (late) nanosleep(&nap, NULL);
    else if (poll_mode == 1) sched_yield();
  }
}

/* starts a nonblocking MPI call (its return code) and completes it */
#define NONBLOCKING(job, what, call)                 \
  do {                                               \
    MPI_Request request_;                            \
    int rc_ = (call);                                \
    if (rc_ != MPI_SUCCESS) return fail(job, what, rc_); \
    if (!wait_for(job, &request_, what)) return 0;   \
  } while (0)

/* "allReduce(1000)" or "broadcast(1000, root 1)" for messages */
static void describe(char *out, size_t size, const int64_t *call) {
  const char *name = call[0] >= 0 && call[0] <= OP_CHANNEL ? OP_NAMES[call[0]] : "?";
  if (call[0] == OP_BROADCAST) snprintf(out, size, "%s(%lld, root %lld)", name, (long long)call[1], (long long)call[2]);
  else if (call[0] == OP_BARRIER) snprintf(out, size, "%s()", name);
  else snprintf(out, size, "%s(%lld)", name, (long long)call[1]);
}

/* every rank must be making the same call: exchange (op, n, root, call number) and compare with rank 0's */
static int exchange_calls(job_t *job, const int64_t *mine, int64_t *all) {
  NONBLOCKING(job, "MPI_Iallgather (call check)", MPI_Iallgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, job->channel->comm, &request_));
  return 1;
}

static int agree(job_t *job) {
  /* on the heap, this rank's entry after everyone's: a send buffer too must outlive an abandoned request */
  int64_t *all = malloc(sizeof(int64_t) * 4 * ((size_t)world_size + 1));
  if (!all) {
    snprintf(job->message, sizeof job->message, "out of memory");
    return job->ok = 0;
  }
  int64_t *mine = all + 4 * world_size;
  mine[0] = job->op;
  mine[1] = job->n;
  mine[2] = job->root;
  mine[3] = job->channel->call_count++;
  if (!exchange_calls(job, mine, all)) {
    if (!atomic_load(&abandoned)) free(all);
    return 0;
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
   (env WEBGRAD_MPI_ROUND_FLOATS lowers it, for the tests of arrays split over several rounds) */
static int64_t round_floats = (int64_t)1 << 26;

/* one round: reduce-scatter in rank order, then all-gather; counts/displs/scratch are the caller's */
static int allreduce_round(job_t *job, float *data, int64_t len, int *counts, int *displs, int *recv_counts, int *recv_displs, float *scratch) {
  const int K = world_size;
  MPI_Comm comm = job->channel->comm;
  /* slice j: floor(len/K) floats, one more for the first len%K ranks */
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
  NONBLOCKING(job, "MPI_Ialltoallv (reduce-scatter)",
              MPI_Ialltoallv(data, counts, displs, MPI_FLOAT, scratch, recv_counts, recv_displs, MPI_FLOAT, comm, &request_));
  float *slice = data + displs[world_rank];
  for (int e = 0; e < mine; e++) {
    float total = 0.0f; /* +0 first, as the in-process group: (+0) + (-0) is +0 */
    for (int i = 0; i < K; i++) total += scratch[(size_t)i * (size_t)mine + (size_t)e];
    slice[e] = total;
  }
  NONBLOCKING(job, "MPI_Iallgatherv (all-gather)", MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts, displs, MPI_FLOAT, comm, &request_));
  return 1;
}

static void allreduce(job_t *job) {
  const int K = world_size;
  int *counts = malloc(sizeof(int) * 4 * (size_t)K);
  int64_t largest = job->n < round_floats ? job->n : round_floats;
  float *scratch = malloc(sizeof(float) * ((size_t)(largest / K + 1) * (size_t)K));
  if (!counts || !scratch) {
    snprintf(job->message, sizeof job->message, "out of memory for a %lld-float scratch buffer", (long long)largest);
    job->ok = 0;
  } else {
    for (int64_t start = 0; start < job->n; start += round_floats) {
      int64_t len = job->n - start < round_floats ? job->n - start : round_floats;
      if (!allreduce_round(job, job->data + start, len, counts, counts + K, counts + 2 * K, counts + 3 * K, scratch)) break;
    }
  }
  if (!atomic_load(&abandoned)) {
    free(scratch);
    free(counts);
  }
}

static int broadcast(job_t *job) {
  MPI_Comm comm = job->channel->comm;
  for (int64_t start = 0; start < job->n; start += round_floats) {
    int64_t len = job->n - start < round_floats ? job->n - start : round_floats;
    NONBLOCKING(job, "MPI_Ibcast", MPI_Ibcast(job->data + start, (int)len, MPI_FLOAT, job->root, comm, &request_));
  }
  return 1;
}

static int barrier(job_t *job) {
  NONBLOCKING(job, "MPI_Ibarrier", MPI_Ibarrier(job->channel->comm, &request_));
  return 1;
}

static void *mpi_thread(void *arg);

/* OP_CHANNEL: channel `id` duplicates channel 0's communicator (every rank does it, in step) and gets a thread */
static void open_channel(job_t *job, int id) {
  int rc;
  if (thread_level < MPI_THREAD_MULTIPLE) {
    snprintf(job->message, sizeof job->message, "a second channel needs MPI_THREAD_MULTIPLE; this MPI library gives level %d (%s)", thread_level,
             library_version);
    job->recoverable = 1; /* every rank's library says so, in step */
    job->ok = 0;
    return;
  }
  channel_t *ch = &channels[id];
  if ((rc = MPI_Comm_dup(channels[0].comm, &ch->comm)) != MPI_SUCCESS) {
    fail(job, "MPI_Comm_dup (channel)", rc);
    return;
  }
  MPI_Comm_set_errhandler(ch->comm, MPI_ERRORS_RETURN);
  pthread_mutex_init(&ch->lock, NULL);
  pthread_cond_init(&ch->ready, NULL);
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&thread, &attr, mpi_thread, ch);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    snprintf(job->message, sizeof job->message, "could not start the thread of channel %d", id);
    job->ok = 0;
  }
}

static void run(job_t *job) {
  job->ok = 1;
  int rc;
  if (job->op != OP_INIT && job->op != OP_FINALIZE && group_failed(job->message, sizeof job->message)) {
    job->ok = 0;
    return;
  }
  MPI_Comm comm = MPI_COMM_NULL;
  switch (job->op) {
    case OP_INIT: {
      int flag = 0;
      MPI_Initialized(&flag);
      if (!flag && (rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &thread_level)) != MPI_SUCCESS) {
        fail(job, "MPI_Init_thread", rc);
        return;
      }
      if (flag) MPI_Query_thread(&thread_level);
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      /* communicators of our own, so a program's other MPI traffic never matches ours */
      if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm)) != MPI_SUCCESS || (rc = MPI_Comm_dup(MPI_COMM_WORLD, &abort_comm)) != MPI_SUCCESS) {
        fail(job, "MPI_Comm_dup", rc);
        return;
      }
      channels[0].comm = comm;
      MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
      MPI_Comm_set_errhandler(abort_comm, MPI_ERRORS_RETURN);
      const char *poll = getenv("WEBGRAD_MPI_POLL");
      if (poll) poll_mode = !strcmp(poll, "spin") ? 0 : !strcmp(poll, "sleep") ? 2 : 1;
      const char *round = getenv("WEBGRAD_MPI_ROUND_FLOATS");
      if (round && atoll(round) > 0 && atoll(round) < round_floats) round_floats = atoll(round);
      MPI_Comm_rank(comm, &world_rank);
      MPI_Comm_size(comm, &world_size);
      if ((rc = MPI_Irecv(reason_in, REASON_LENGTH, MPI_CHAR, MPI_ANY_SOURCE, ABORT_TAG, abort_comm, &abort_receive)) != MPI_SUCCESS) {
        fail(job, "MPI_Irecv (abort channel)", rc);
        return;
      }
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
      if (agree(job)) barrier(job);
      return;
    case OP_CHANNEL:
      if (agree(job)) open_channel(job, job->root);
      return;
    case OP_FINALIZE:
      if (group_failed(job->message, sizeof job->message)) { /* a rank aborted meanwhile: it will not finalize, so neither can we */
        job->ok = 0;
        return;
      }
      /* every rank is here and in step: the abort channel's receive is the only request left */
      if (abort_receive != MPI_REQUEST_NULL) {
        MPI_Cancel(&abort_receive);
        MPI_Wait(&abort_receive, MPI_STATUS_IGNORE);
      }
      /* the other channels' threads are idle (JS finalizes after their last operation) */
      for (int c = 0; c < MAX_CHANNELS; c++)
        if (channels[c].comm != MPI_COMM_NULL) MPI_Comm_free(&channels[c].comm);
      if (abort_comm != MPI_COMM_NULL) MPI_Comm_free(&abort_comm);
      if ((rc = MPI_Finalize()) != MPI_SUCCESS) fail(job, "MPI_Finalize", rc);
      return;
  }
}

static void *mpi_thread(void *arg) {
  channel_t *ch = arg;
  for (;;) {
    pthread_mutex_lock(&ch->lock);
    while (!ch->head) {
      /* channel 0's thread sends an abort requested while nothing runs */
      if (ch == &channels[0] && atomic_load_explicit(&abort_requested, memory_order_acquire) && world_size > 0) {
        pthread_mutex_unlock(&ch->lock);
        group_failed(NULL, 0); /* sends it, once */
        pthread_mutex_lock(&ch->lock);
        if (!ch->head) pthread_cond_wait(&ch->ready, &ch->lock);
        continue;
      }
      pthread_cond_wait(&ch->ready, &ch->lock);
    }
    job_t *job = ch->head;
    ch->head = job->next;
    if (!ch->head) ch->tail = NULL;
    pthread_mutex_unlock(&ch->lock);
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
    if (job->keep && !atomic_load(&abandoned)) napi_delete_reference(env, job->keep);
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
  if (job->op == OP_CHANNEL && job->ok) channel_open[job->root] = 1;
  if (job->op == OP_FINALIZE && !released) {
    released = 1;
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  }
  free(job);
}

static napi_value submit(napi_env env, int channel, enum op op, napi_value array, float *data, int64_t n, int root) {
  if (channel < 0 || channel >= MAX_CHANNELS || (channel > 0 && !channel_open[channel])) {
    napi_throw_range_error(env, NULL, "webgrad_mpi: no such channel (open it with openChannel first)");
    return NULL;
  }
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
    for (int c = 0; c < MAX_CHANNELS; c++) channels[c].comm = MPI_COMM_NULL;
    pthread_mutex_init(&channels[0].lock, NULL);
    pthread_cond_init(&channels[0].ready, NULL);
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, mpi_thread, &channels[0]);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      napi_throw_error(env, NULL, "webgrad_mpi: could not start the MPI thread");
      return NULL;
    }
    started = 1;
    channel_open[0] = 1;
  }
  job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "webgrad_mpi: out of memory");
    return NULL;
  }
  job->channel = &channels[channel];
  job->op = op;
  job->data = data;
  job->n = n;
  job->root = root;
  if (array) CHECK(napi_create_reference(env, array, 1, &job->keep));
  napi_value promise;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  if (op == OP_FINALIZE) finished = 1;
  if (pending++ == 0 && !detached) CHECK(napi_ref_threadsafe_function(env, tsfn));
  channel_t *ch = job->channel;
  pthread_mutex_lock(&ch->lock);
  if (ch->tail) ch->tail->next = job;
  else ch->head = job;
  ch->tail = job;
  pthread_cond_signal(&ch->ready);
  pthread_mutex_unlock(&ch->lock);
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
  return submit(env, 0, OP_INIT, NULL, NULL, 0, 0);
}

/* the optional channel argument at argv[i] (default 0) */
static int channel_arg(napi_env env, size_t argc, napi_value *argv, size_t i, int32_t *channel) {
  *channel = 0;
  if (argc > i && napi_get_value_int32(env, argv[i], channel) != napi_ok) {
    napi_throw_type_error(env, NULL, "webgrad_mpi: the channel must be a number");
    return 0;
  }
  return 1;
}

static napi_value js_allreduce(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *data;
  int64_t n;
  int32_t channel;
  if (argc < 1 || !float_array(env, argv[0], &data, &n, "allreduce") || !channel_arg(env, argc, argv, 1, &channel)) return NULL;
  return submit(env, channel, OP_ALLREDUCE, argv[0], data, n, 0);
}

static napi_value js_broadcast(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *data;
  int64_t n;
  int32_t root = 0;
  int32_t channel;
  if (argc < 1 || !float_array(env, argv[0], &data, &n, "broadcast") || !channel_arg(env, argc, argv, 2, &channel)) return NULL;
  if (argc > 1 && napi_get_value_int32(env, argv[1], &root) != napi_ok) {
    napi_throw_type_error(env, NULL, "webgrad_mpi.broadcast: root must be a number");
    return NULL;
  }
  if (started && world_size > 0 && (root < 0 || root >= world_size)) {
    napi_throw_range_error(env, NULL, "webgrad_mpi.broadcast: root out of range");
    return NULL;
  }
  return submit(env, channel, OP_BROADCAST, argv[0], data, n, root);
}

static napi_value js_barrier(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t channel;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!channel_arg(env, argc, argv, 0, &channel)) return NULL;
  return submit(env, channel, OP_BARRIER, NULL, NULL, 0, 0);
}

/* openChannel(id): every rank, in the same order relative to channel 0's other operations */
static napi_value js_open_channel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t id = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &id) != napi_ok || id < 1 || id >= MAX_CHANNELS || channel_open[id]) {
    napi_throw_range_error(env, NULL, "webgrad_mpi.openChannel: expected an unused channel number in [1, 16)");
    return NULL;
  }
  return submit(env, 0, OP_CHANNEL, NULL, NULL, 0, id);
}

static napi_value js_finalize(napi_env env, napi_callback_info info) {
  (void)info;
  return submit(env, 0, OP_FINALIZE, NULL, NULL, 0, 0);
}

/* release(): pending answers stop keeping the event loop alive (after a timeout: the thread may never answer) */
static napi_value js_release(napi_env env, napi_callback_info info) {
  (void)info;
  if (started && !released && !detached) napi_unref_threadsafe_function(env, tsfn);
  detached = 1;
  return NULL;
}

/* abort(reason): this rank's pending and later calls fail, and every other rank's, naming this rank and the reason */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  size_t length = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], reason_out, sizeof reason_out, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "webgrad_mpi.abort: expected a reason string");
    return NULL;
  }
  if (!started || atomic_load_explicit(&abort_requested, memory_order_relaxed)) return NULL;
  pthread_mutex_lock(&channels[0].lock);
  atomic_store_explicit(&abort_requested, 1, memory_order_release);
  pthread_cond_signal(&channels[0].ready);
  pthread_mutex_unlock(&channels[0].lock);
  return NULL;
}

/* MPI_Abort on the whole job (called from the JS thread: the MPI thread may be busy in a collective) */
static napi_value js_abort_job(napi_env env, napi_callback_info info) {
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
      {"openChannel", NULL, js_open_channel, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
      {"abortJob", NULL, js_abort_job, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(webgrad_mpi, init_module)
