/*
 * The ipcz C API through IpczGetAPI, with a driver written here in C: two
 * nodes connected through it, portals moved between them, boxes of driver
 * objects sent across, traps firing into C, and a parcel rejected back to
 * the driver. The driver runs in two modes: "sync" delivers on the thread
 * that transmits (re-entrantly, through the library's activity handler,
 * from inside ipcz calls), "async" delivers on one thread per transport.
 * Then the library's built-in drivers (ipcz_go_ext.h), and the size rules
 * of IpczGetAPI.
 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ipcz/ipcz.h"
#include "ipcz/ipcz_go_ext.h"
#include "ctest.h"

static struct IpczAPI api;

/* ---------------- the C driver ---------------- */

enum kind { K_FREE = 0, K_TRANSPORT, K_MEMORY, K_MAPPING, K_SERIALIZED, K_BLOB };

struct region {
  atomic_int refs;
  size_t size;
  void* data;
};

struct event {
  struct event* next;
  void* data;
  size_t num_bytes;
  IpczDriverHandle* handles;
  size_t num_handles;
  IpczTransportActivityFlags flags;
};

struct endpoint {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct endpoint* peer; /* guarded by the driver's table lock */
  IpczHandle listener;
  IpczTransportActivityHandler handler;
  int active, deactivating, closed, errored, draining, stop;
  struct event *head, *tail;
  pthread_t thread;
  int has_thread;
};

struct object {
  int kind;
  struct region* region;   /* memory, mapping */
  struct endpoint* ep;     /* transport */
  int inner_kind;          /* serialized: what it holds */
  uint32_t blob;           /* blob value */
};

#define MAX_OBJECTS 4096
static struct object objects[MAX_OBJECTS];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static int async_mode;
static atomic_int live_objects, activations, deactivations, bad_reports;
static atomic_int deliveries_off_main;
static pthread_t main_thread;

static IpczDriverHandle new_object(struct object o) {
  pthread_mutex_lock(&table_mu);
  for (int i = 1; i < MAX_OBJECTS; i++) {
    if (objects[i].kind == K_FREE) {
      objects[i] = o;
      pthread_mutex_unlock(&table_mu);
      atomic_fetch_add(&live_objects, 1);
      return (IpczDriverHandle)i;
    }
  }
  pthread_mutex_unlock(&table_mu);
  return 0;
}

static struct object* get_object(IpczDriverHandle h, int kind) {
  if (h == 0 || h >= MAX_OBJECTS) return NULL;
  struct object* o = &objects[h];
  return o->kind == kind ? o : NULL;
}

static int take_object(IpczDriverHandle h, int kind, struct object* out) {
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(h, kind);
  if (!o) {
    pthread_mutex_unlock(&table_mu);
    return 0;
  }
  *out = *o;
  memset(o, 0, sizeof *o);
  pthread_mutex_unlock(&table_mu);
  atomic_fetch_sub(&live_objects, 1);
  return 1;
}

static void unref_region(struct region* r) {
  if (atomic_fetch_sub(&r->refs, 1) == 1) {
    free(r->data);
    free(r);
  }
}

static void free_event(struct event* e);

/* Delivers queued events of `ep` on the calling thread, unless another
 * delivery is running (handler calls never overlap). */
static void drain(struct endpoint* ep) {
  pthread_mutex_lock(&ep->mu);
  if (ep->draining || !ep->active) {
    pthread_mutex_unlock(&ep->mu);
    return;
  }
  ep->draining = 1;
  while (ep->head) {
    struct event* e = ep->head;
    ep->head = e->next;
    if (!ep->head) ep->tail = NULL;
    int final = (e->flags & IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED) != 0;
    int deliver = final || !ep->deactivating;
    IpczTransportActivityHandler h = ep->handler;
    IpczHandle l = ep->listener;
    pthread_mutex_unlock(&ep->mu);
    if (deliver) {
      if (!pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&deliveries_off_main, 1);
      IpczResult r = h(l, e->data, e->num_bytes, e->handles, e->num_handles,
                       e->flags, NULL);
      if (r != IPCZ_RESULT_OK && !final) {
        /* Rejected: report an error once. */
        pthread_mutex_lock(&ep->mu);
        if (!ep->errored) {
          ep->errored = 1;
          struct event* err = calloc(1, sizeof *err);
          err->flags = IPCZ_TRANSPORT_ACTIVITY_ERROR;
          err->next = ep->head;
          ep->head = err;
          if (!ep->tail) ep->tail = err;
        }
        pthread_mutex_unlock(&ep->mu);
      }
    } else {
      for (size_t i = 0; i < e->num_handles; i++) {
        struct object o;
        if (take_object(e->handles[i], K_SERIALIZED, &o) && o.region)
          unref_region(o.region);
      }
    }
    free_event(e);
    if (final) atomic_fetch_add(&deactivations, 1);
    pthread_mutex_lock(&ep->mu);
    if (final) {
      ep->active = 0;
      break;
    }
  }
  ep->draining = 0;
  pthread_mutex_unlock(&ep->mu);
}

static void* deliver_thread(void* arg) {
  struct endpoint* ep = arg;
  pthread_mutex_lock(&ep->mu);
  for (;;) {
    while (!ep->head && !ep->stop) pthread_cond_wait(&ep->cv, &ep->mu);
    if (!ep->head && ep->stop) break;
    pthread_mutex_unlock(&ep->mu);
    drain(ep);
    pthread_mutex_lock(&ep->mu);
    if (!ep->active) break;
  }
  pthread_mutex_unlock(&ep->mu);
  return NULL;
}

/* Queues an event and gets it delivered (here, or by the endpoint's
 * thread). Takes ownership of e. */
static void push(struct endpoint* ep, struct event* e) {
  pthread_mutex_lock(&ep->mu);
  if (ep->tail) ep->tail->next = e; else ep->head = e;
  ep->tail = e;
  pthread_cond_broadcast(&ep->cv);
  pthread_mutex_unlock(&ep->mu);
  if (!async_mode) drain(ep);
}

static void free_event(struct event* e) {
  free(e->data);
  free(e->handles);
  free(e);
}

static IpczResult IPCZ_API DrvClose(IpczDriverHandle h, uint32_t flags, const void* options) {
  (void)flags;
  (void)options;
  struct object o;
  pthread_mutex_lock(&table_mu);
  int kind = (h > 0 && h < MAX_OBJECTS) ? objects[h].kind : K_FREE;
  pthread_mutex_unlock(&table_mu);
  if (kind == K_FREE || !take_object(h, kind, &o)) return IPCZ_RESULT_INVALID_ARGUMENT;
  if (o.region) unref_region(o.region);
  if (o.kind == K_TRANSPORT) {
    struct endpoint* ep = o.ep;
    pthread_mutex_lock(&table_mu);
    struct endpoint* peer = ep->peer;
    if (peer) peer->peer = NULL;
    ep->peer = NULL;
    pthread_mutex_unlock(&table_mu);
    if (peer) {
      struct event* e = calloc(1, sizeof *e);
      e->flags = IPCZ_TRANSPORT_ACTIVITY_ERROR;
      pthread_mutex_lock(&peer->mu);
      int errored = peer->errored;
      peer->errored = 1;
      pthread_mutex_unlock(&peer->mu);
      if (!errored) push(peer, e); else free(e);
    }
    pthread_mutex_lock(&ep->mu);
    int active = ep->active && !ep->deactivating;
    pthread_mutex_unlock(&ep->mu);
    if (active) {
      pthread_mutex_lock(&ep->mu);
      ep->deactivating = 1;
      pthread_mutex_unlock(&ep->mu);
      struct event* e = calloc(1, sizeof *e);
      e->flags = IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED;
      push(ep, e);
    }
    /* Endpoints are leaked deliberately: a delivery thread may still hold
     * one. The test process is short-lived. */
    pthread_mutex_lock(&ep->mu);
    ep->stop = 1;
    pthread_cond_broadcast(&ep->cv);
    pthread_mutex_unlock(&ep->mu);
  }
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvSerialize(IpczDriverHandle h, IpczDriverHandle transport,
                                        uint32_t flags, const void* options, void* data,
                                        size_t* num_bytes, IpczDriverHandle* handles,
                                        size_t* num_handles) {
  (void)transport;
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  int kind = (h > 0 && h < MAX_OBJECTS) ? objects[h].kind : K_FREE;
  pthread_mutex_unlock(&table_mu);
  if (kind != K_MEMORY && kind != K_BLOB) return IPCZ_RESULT_INVALID_ARGUMENT;
  size_t have_bytes = num_bytes ? *num_bytes : 0;
  size_t have_handles = num_handles ? *num_handles : 0;
  if (num_bytes) *num_bytes = 8;
  if (num_handles) *num_handles = 1;
  if (have_bytes < 8 || have_handles < 1 || !data || !handles)
    return IPCZ_RESULT_RESOURCE_EXHAUSTED;
  struct object o;
  if (!take_object(h, kind, &o)) return IPCZ_RESULT_INVALID_ARGUMENT;
  uint32_t header[2] = {(uint32_t)kind, o.blob};
  memcpy(data, header, 8);
  struct object s = {K_SERIALIZED, o.region, NULL, kind, o.blob};
  handles[0] = new_object(s);
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvDeserialize(const void* data, size_t num_bytes,
                                          const IpczDriverHandle* handles, size_t num_handles,
                                          IpczDriverHandle transport, uint32_t flags,
                                          const void* options, IpczDriverHandle* handle) {
  (void)transport;
  (void)flags;
  (void)options;
  uint32_t header[2];
  if (num_bytes != 8 || num_handles != 1) return IPCZ_RESULT_INVALID_ARGUMENT;
  memcpy(header, data, 8);
  struct object s;
  pthread_mutex_lock(&table_mu);
  struct object* so = get_object(handles[0], K_SERIALIZED);
  int ok = so && so->inner_kind == (int)header[0];
  pthread_mutex_unlock(&table_mu);
  if (!ok || !take_object(handles[0], K_SERIALIZED, &s)) return IPCZ_RESULT_INVALID_ARGUMENT;
  struct object o = {s.inner_kind, s.region, NULL, 0, header[1]};
  *handle = new_object(o);
  return IPCZ_RESULT_OK;
}

static struct endpoint* new_endpoint(void) {
  struct endpoint* ep = calloc(1, sizeof *ep);
  pthread_mutex_init(&ep->mu, NULL);
  pthread_cond_init(&ep->cv, NULL);
  return ep;
}

static void transport_pair(IpczDriverHandle* a, IpczDriverHandle* b) {
  struct endpoint* x = new_endpoint();
  struct endpoint* y = new_endpoint();
  x->peer = y;
  y->peer = x;
  struct object ox = {K_TRANSPORT, NULL, x, 0, 0};
  struct object oy = {K_TRANSPORT, NULL, y, 0, 0};
  *a = new_object(ox);
  *b = new_object(oy);
}

static IpczResult IPCZ_API DrvCreateTransports(IpczDriverHandle t0, IpczDriverHandle t1,
                                               uint32_t flags, const void* options,
                                               IpczDriverHandle* n0, IpczDriverHandle* n1) {
  (void)t0;
  (void)t1;
  (void)flags;
  (void)options;
  transport_pair(n0, n1);
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvActivateTransport(IpczDriverHandle t, IpczHandle listener,
                                                IpczTransportActivityHandler handler,
                                                uint32_t flags, const void* options) {
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(t, K_TRANSPORT);
  struct endpoint* ep = o ? o->ep : NULL;
  pthread_mutex_unlock(&table_mu);
  if (!ep) return IPCZ_RESULT_INVALID_ARGUMENT;
  pthread_mutex_lock(&ep->mu);
  ep->listener = listener;
  ep->handler = handler;
  ep->active = 1;
  pthread_mutex_unlock(&ep->mu);
  atomic_fetch_add(&activations, 1);
  if (async_mode) {
    ep->has_thread = 1;
    pthread_create(&ep->thread, NULL, deliver_thread, ep);
    pthread_detach(ep->thread);
  } else {
    drain(ep); /* what arrived before activation */
  }
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvDeactivateTransport(IpczDriverHandle t, uint32_t flags,
                                                  const void* options) {
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(t, K_TRANSPORT);
  struct endpoint* ep = o ? o->ep : NULL;
  pthread_mutex_unlock(&table_mu);
  if (!ep) return IPCZ_RESULT_INVALID_ARGUMENT;
  pthread_mutex_lock(&ep->mu);
  int already = ep->deactivating || !ep->active;
  ep->deactivating = 1;
  pthread_mutex_unlock(&ep->mu);
  if (!already) {
    /* The final call is queued, so it never overlaps a delivery in
     * progress (ipcz may deactivate from inside its handler). */
    struct event* e = calloc(1, sizeof *e);
    e->flags = IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED;
    push(ep, e);
  }
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvTransmit(IpczDriverHandle t, const void* data, size_t num_bytes,
                                       const IpczDriverHandle* handles, size_t num_handles,
                                       uint32_t flags, const void* options) {
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(t, K_TRANSPORT);
  struct endpoint* peer = o ? o->ep->peer : NULL;
  int ok = o != NULL;
  for (size_t i = 0; ok && i < num_handles; i++)
    ok = get_object(handles[i], K_SERIALIZED) != NULL;
  pthread_mutex_unlock(&table_mu);
  if (!ok) return IPCZ_RESULT_INVALID_ARGUMENT;
  if (!peer) return IPCZ_RESULT_UNAVAILABLE;
  struct event* e = calloc(1, sizeof *e);
  e->data = malloc(num_bytes ? num_bytes : 1);
  memcpy(e->data, data, num_bytes);
  e->num_bytes = num_bytes;
  e->handles = malloc((num_handles ? num_handles : 1) * sizeof *handles);
  memcpy(e->handles, handles, num_handles * sizeof *handles);
  e->num_handles = num_handles;
  push(peer, e);
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvReportBadTransportActivity(IpczDriverHandle t, uintptr_t context,
                                                         uint32_t flags, const void* options) {
  (void)t;
  (void)flags;
  (void)options;
  if (context == 777) atomic_fetch_add(&bad_reports, 1);
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvAllocateSharedMemory(size_t num_bytes, uint32_t flags,
                                                   const void* options,
                                                   IpczDriverHandle* memory) {
  (void)flags;
  (void)options;
  struct region* r = calloc(1, sizeof *r);
  r->refs = 1;
  r->size = num_bytes;
  r->data = calloc(1, num_bytes ? num_bytes : 1);
  struct object o = {K_MEMORY, r, NULL, 0, 0};
  *memory = new_object(o);
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvGetSharedMemoryInfo(IpczDriverHandle m, uint32_t flags,
                                                  const void* options,
                                                  struct IpczSharedMemoryInfo* info) {
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(m, K_MEMORY);
  size_t size = o ? o->region->size : 0;
  pthread_mutex_unlock(&table_mu);
  if (!o || !info || info->size < sizeof *info) return IPCZ_RESULT_INVALID_ARGUMENT;
  info->region_num_bytes = size;
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvDuplicateSharedMemory(IpczDriverHandle m, uint32_t flags,
                                                    const void* options,
                                                    IpczDriverHandle* out) {
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(m, K_MEMORY);
  struct region* r = o ? o->region : NULL;
  if (r) atomic_fetch_add(&r->refs, 1);
  pthread_mutex_unlock(&table_mu);
  if (!r) return IPCZ_RESULT_INVALID_ARGUMENT;
  struct object d = {K_MEMORY, r, NULL, 0, 0};
  *out = new_object(d);
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvMapSharedMemory(IpczDriverHandle m, uint32_t flags,
                                              const void* options, void** address,
                                              IpczDriverHandle* mapping) {
  (void)flags;
  (void)options;
  pthread_mutex_lock(&table_mu);
  struct object* o = get_object(m, K_MEMORY);
  struct region* r = o ? o->region : NULL;
  if (r) atomic_fetch_add(&r->refs, 1);
  pthread_mutex_unlock(&table_mu);
  if (!r) return IPCZ_RESULT_INVALID_ARGUMENT;
  struct object mo = {K_MAPPING, r, NULL, 0, 0};
  *mapping = new_object(mo);
  *address = r->data;
  return IPCZ_RESULT_OK;
}

static IpczResult IPCZ_API DrvGenerateRandomBytes(size_t num_bytes, uint32_t flags,
                                                  const void* options, void* buffer) {
  (void)flags;
  (void)options;
  static atomic_uint seed = 12345;
  unsigned char* b = buffer;
  for (size_t i = 0; i < num_bytes; i++) {
    unsigned s = atomic_fetch_add(&seed, 2654435761u);
    b[i] = (unsigned char)(s >> 13);
  }
  return IPCZ_RESULT_OK;
}

static const struct IpczDriver c_driver = {
    sizeof(struct IpczDriver),
    DrvClose,
    DrvSerialize,
    DrvDeserialize,
    DrvCreateTransports,
    DrvActivateTransport,
    DrvDeactivateTransport,
    DrvTransmit,
    DrvReportBadTransportActivity,
    DrvAllocateSharedMemory,
    DrvGetSharedMemoryInfo,
    DrvDuplicateSharedMemory,
    DrvMapSharedMemory,
    DrvGenerateRandomBytes,
};

/* ---------------- helpers ---------------- */

/* Gets the next parcel from `portal`, waiting up to 10 s. */
static IpczResult get_wait(IpczHandle portal, void* data, size_t* num_bytes,
                           IpczHandle* handles, size_t* num_handles) {
  size_t nb = num_bytes ? *num_bytes : 0, nh = num_handles ? *num_handles : 0;
  double deadline = ctest_now() + 10;
  for (;;) {
    if (num_bytes) *num_bytes = nb;
    if (num_handles) *num_handles = nh;
    IpczResult r = api.Get(portal, IPCZ_NO_FLAGS, NULL, data, num_bytes, handles,
                           num_handles, NULL);
    if (r != IPCZ_RESULT_UNAVAILABLE || ctest_now() > deadline) return r;
    usleep(200);
  }
}

struct trap_log {
  pthread_mutex_t mu;
  int count;
  uintptr_t context;
  IpczTrapConditionFlags flags;
  size_t local_parcels;
  size_t event_size, status_size;
};

static void IPCZ_API on_trap(const struct IpczTrapEvent* event) {
  struct trap_log* log = (struct trap_log*)event->context;
  pthread_mutex_lock(&log->mu);
  log->count++;
  log->context = event->context;
  log->flags = event->condition_flags;
  log->local_parcels = event->status->num_local_parcels;
  log->event_size = event->size;
  log->status_size = event->status->size;
  pthread_mutex_unlock(&log->mu);
}

static int trap_count(struct trap_log* log) {
  pthread_mutex_lock(&log->mu);
  int n = log->count;
  pthread_mutex_unlock(&log->mu);
  return n;
}

/* ---------------- tests ---------------- */

static void get_api_rules(void) {
  CHECK_EQ(IpczGetAPI(NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  struct IpczAPI small;
  memset(&small, 0, sizeof small);
  small.size = 135;
  CHECK_EQ(IpczGetAPI(&small), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK(small.Close == NULL);
  /* A larger (newer) caller's table: our size comes back and nothing past
   * it is written. */
  struct {
    struct IpczAPI api;
    unsigned char newer[64];
  } big;
  memset(&big, 0xAB, sizeof big);
  big.api.size = sizeof big;
  CHECK_OK(IpczGetAPI(&big.api));
  CHECK_EQ(big.api.size, 136);
  CHECK(big.api.Unbox != NULL && big.api.Close != NULL);
  int untouched = 1;
  for (size_t i = 0; i < sizeof big.newer; i++) untouched &= big.newer[i] == 0xAB;
  CHECK(untouched);
  memset(&api, 0, sizeof api);
  api.size = sizeof api;
  CHECK_OK(IpczGetAPI(&api));
  CHECK_EQ(api.size, sizeof(struct IpczAPI));
}

static void create_node_rules(void) {
  IpczHandle node;
  struct IpczDriver d = c_driver;
  CHECK_EQ(api.CreateNode(NULL, 0, 0, NULL, &node), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(api.CreateNode(&d, 0, 0, NULL, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  d.size = 104;
  CHECK_EQ(api.CreateNode(&d, 0, 0, NULL, &node), IPCZ_RESULT_INVALID_ARGUMENT);
  d = c_driver;
  d.Transmit = NULL;
  CHECK_EQ(api.CreateNode(&d, 0, 0, NULL, &node), IPCZ_RESULT_INVALID_ARGUMENT);
  d = c_driver;
  d.ReportBadTransportActivity = NULL; /* optional */
  CHECK_OK(api.CreateNode(&d, 0, 0, NULL, &node));
  CHECK_OK(api.Close(node, 0, NULL));
  CHECK_EQ(api.Close(node, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(api.Close(0, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
}

static void one_node(void) {
  IpczHandle node, a, b;
  CHECK_OK(api.CreateNode(&c_driver, 0, IPCZ_CREATE_NODE_AS_BROKER, NULL, &node));
  CHECK_EQ(api.OpenPortals(node, 0, NULL, &a, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.OpenPortals(node, 0, NULL, &a, &b));
  CHECK(a != 0 && b != 0 && a != b);

  /* Put / Get, and the capacity rules. */
  CHECK_EQ(api.Put(a, NULL, 3, NULL, 0, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.Put(a, "hey", 3, NULL, 0, 0, NULL));
  char buf[16];
  size_t nb = 1, nh = 0;
  CHECK_EQ(api.Get(b, 0, NULL, buf, &nb, NULL, &nh, NULL), IPCZ_RESULT_RESOURCE_EXHAUSTED);
  CHECK_EQ(nb, 3);
  nb = sizeof buf;
  CHECK_OK(api.Get(b, 0, NULL, buf, &nb, NULL, NULL, NULL));
  CHECK(nb == 3 && memcmp(buf, "hey", 3) == 0);
  nb = sizeof buf;
  CHECK_EQ(api.Get(b, 0, NULL, buf, &nb, NULL, NULL, NULL), IPCZ_RESULT_UNAVAILABLE);

  /* Put limits. */
  struct IpczPutLimits limits = {sizeof limits, 1, 100};
  struct IpczPutOptions opts = {sizeof opts, &limits};
  CHECK_OK(api.Put(a, "1", 1, NULL, 0, 0, &opts));
  CHECK_EQ(api.Put(a, "2", 1, NULL, 0, 0, &opts), IPCZ_RESULT_RESOURCE_EXHAUSTED);
  opts.size = 8;
  CHECK_EQ(api.Put(a, "2", 1, NULL, 0, 0, &opts), IPCZ_RESULT_INVALID_ARGUMENT);

  /* QueryPortalStatus. */
  struct IpczPortalStatus st;
  memset(&st, 0, sizeof st);
  st.size = 40;
  CHECK_EQ(api.QueryPortalStatus(b, 0, NULL, &st), IPCZ_RESULT_INVALID_ARGUMENT);
  st.size = sizeof st;
  CHECK_OK(api.QueryPortalStatus(b, 0, NULL, &st));
  CHECK_EQ(st.num_local_parcels, 1);
  CHECK_EQ(st.num_local_bytes, 1);

  /* Two-phase get (the memory stays put until EndGet) and put. */
  const void* view;
  size_t vn = 0, vh = 0;
  CHECK_EQ(api.BeginGet(b, 0, NULL, NULL, NULL, &vh), IPCZ_RESULT_RESOURCE_EXHAUSTED);
  CHECK_OK(api.BeginGet(b, 0, NULL, &view, &vn, &vh));
  CHECK(vn == 1 && *(const char*)view == '1' && vh == 0);
  CHECK_EQ(api.Get(b, 0, NULL, buf, &nb, NULL, NULL, NULL), IPCZ_RESULT_ALREADY_EXISTS);
  CHECK_EQ(api.EndGet(b, 2, 0, 0, NULL, NULL, NULL), IPCZ_RESULT_OUT_OF_RANGE);
  IpczHandle validator = 0;
  CHECK_OK(api.EndGet(b, 1, 0, 0, NULL, NULL, &validator));
  CHECK(validator != 0);
  /* A parcel from this node cannot be rejected. */
  CHECK_EQ(api.Reject(validator, 777, 0, NULL), IPCZ_RESULT_FAILED_PRECONDITION);
  CHECK_OK(api.Close(validator, 0, NULL));
  CHECK_EQ(api.EndGet(b, 0, 0, 0, NULL, NULL, NULL), IPCZ_RESULT_FAILED_PRECONDITION);

  void* wbuf = NULL;
  size_t wn = 5;
  CHECK_EQ(api.BeginPut(a, 0, NULL, &wn, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.BeginPut(a, 0, NULL, &wn, &wbuf));
  CHECK(wn >= 5 && wbuf != NULL);
  CHECK_EQ(api.BeginPut(a, 0, NULL, &wn, &wbuf), IPCZ_RESULT_ALREADY_EXISTS);
  memcpy(wbuf, "two-p", 5);
  CHECK_EQ(api.EndPut(a, wn + 1, NULL, 0, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.EndPut(a, 5, NULL, 0, 0, NULL));
  CHECK_EQ(api.EndPut(a, 5, NULL, 0, 0, NULL), IPCZ_RESULT_FAILED_PRECONDITION);
  wn = 3;
  CHECK_OK(api.BeginPut(a, 0, NULL, &wn, &wbuf));
  CHECK_OK(api.EndPut(a, 0, NULL, 0, IPCZ_END_PUT_ABORT, NULL));
  nb = sizeof buf;
  CHECK_OK(api.Get(b, 0, NULL, buf, &nb, NULL, NULL, NULL));
  CHECK(nb == 5 && memcmp(buf, "two-p", 5) == 0);

  /* Traps: FAILED_PRECONDITION when already satisfied; a handler call
   * with the context and a status; REMOVED when the portal closes. */
  struct trap_log log;
  memset(&log, 0, sizeof log);
  pthread_mutex_init(&log.mu, NULL);
  struct IpczTrapConditions conds;
  memset(&conds, 0, sizeof conds);
  conds.size = sizeof conds;
  conds.flags = IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS;
  CHECK_EQ(api.Trap(b, NULL, on_trap, (uintptr_t)&log, 0, NULL, NULL, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(api.Trap(b, &conds, NULL, (uintptr_t)&log, 0, NULL, NULL, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  conds.size = 40;
  CHECK_EQ(api.Trap(b, &conds, on_trap, (uintptr_t)&log, 0, NULL, NULL, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  conds.size = sizeof conds;
  CHECK_OK(api.Trap(b, &conds, on_trap, (uintptr_t)&log, 0, NULL, NULL, NULL));
  CHECK_OK(api.Put(a, "t", 1, NULL, 0, 0, NULL));
  CHECK_EQ(trap_count(&log), 1);
  CHECK_EQ(log.context, (uintptr_t)&log);
  CHECK(log.flags & IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS);
  CHECK_EQ(log.local_parcels, 1);
  CHECK_EQ(log.event_size, sizeof(struct IpczTrapEvent));
  CHECK_EQ(log.status_size, sizeof(struct IpczPortalStatus));
  IpczTrapConditionFlags sat = 0;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  CHECK_EQ(api.Trap(b, &conds, on_trap, (uintptr_t)&log, 0, NULL, &sat, &st),
           IPCZ_RESULT_FAILED_PRECONDITION);
  CHECK(sat & IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS);
  CHECK_EQ(st.num_local_parcels, 1);
  nb = sizeof buf;
  CHECK_OK(api.Get(b, 0, NULL, buf, &nb, NULL, NULL, NULL));
  CHECK_OK(api.Trap(b, &conds, on_trap, (uintptr_t)&log, 0, NULL, NULL, NULL));

  /* Boxes of driver objects; moving a portal and a box within the node. */
  IpczDriverHandle mem;
  CHECK_OK(DrvAllocateSharedMemory(64, 0, NULL, &mem));
  IpczHandle box;
  CHECK_EQ(api.Box(node, 0, 0, NULL, &box), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.Box(node, mem, 0, NULL, &box));
  IpczDriverHandle peek;
  CHECK_OK(api.Unbox(box, IPCZ_UNBOX_PEEK, NULL, &peek));
  CHECK_EQ(peek, mem);
  IpczHandle c, d;
  CHECK_OK(api.OpenPortals(node, 0, NULL, &c, &d));
  IpczHandle attach[2] = {d, box};
  CHECK_EQ(api.Put(a, "h", 1, attach, 2, 0, NULL), IPCZ_RESULT_OK);
  CHECK_EQ(api.Close(d, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT); /* moved */
  IpczHandle got[2];
  size_t ng = 2;
  nb = sizeof buf;
  CHECK_OK(api.Get(b, 0, NULL, buf, &nb, got, &ng, NULL));
  CHECK_EQ(ng, 2);
  IpczDriverHandle mem2;
  CHECK_OK(api.Unbox(got[1], 0, NULL, &mem2));
  CHECK_EQ(mem2, mem);
  CHECK_EQ(api.Unbox(got[1], 0, NULL, &mem2), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(DrvClose(mem2, 0, NULL));
  CHECK_OK(api.Put(c, "via moved", 9, NULL, 0, 0, NULL));
  nb = sizeof buf;
  CHECK_OK(api.Get(got[0], 0, NULL, buf, &nb, NULL, NULL, NULL));
  CHECK(nb == 9 && memcmp(buf, "via moved", 9) == 0);

  /* Merge: c's route and a fresh pair e-f join: c's peer (got[0]) talks
   * to f. */
  IpczHandle e, f;
  CHECK_OK(api.OpenPortals(node, 0, NULL, &e, &f));
  CHECK_EQ(api.MergePortals(e, f, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(api.MergePortals(c, e, 0, NULL), IPCZ_RESULT_FAILED_PRECONDITION); /* c put */
  IpczHandle g, h;
  CHECK_OK(api.OpenPortals(node, 0, NULL, &g, &h));
  CHECK_OK(api.MergePortals(h, e, 0, NULL));
  CHECK_EQ(api.Close(h, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.Put(g, "merged", 6, NULL, 0, 0, NULL));
  nb = sizeof buf;
  CHECK_OK(api.Get(f, 0, NULL, buf, &nb, NULL, NULL, NULL));
  CHECK(nb == 6 && memcmp(buf, "merged", 6) == 0);

  /* Closing: peer sees PEER_CLOSED, then NOT_FOUND once drained; the trap
   * still installed on b fires REMOVED when b closes. */
  CHECK_OK(api.Trap(b, &conds, on_trap, (uintptr_t)&log, 0, NULL, NULL, NULL));
  CHECK_OK(api.Close(a, 0, NULL));
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  CHECK_OK(api.QueryPortalStatus(b, 0, NULL, &st));
  CHECK(st.flags & IPCZ_PORTAL_STATUS_PEER_CLOSED);
  nb = sizeof buf;
  CHECK_EQ(api.Get(b, 0, NULL, buf, &nb, NULL, NULL, NULL), IPCZ_RESULT_NOT_FOUND);
  int before = trap_count(&log);
  CHECK_OK(api.Close(b, 0, NULL));
  CHECK_EQ(trap_count(&log), before + 1);
  CHECK(log.flags & IPCZ_TRAP_REMOVED);
  CHECK_EQ(api.Put(b, "x", 1, NULL, 0, 0, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  api.Close(c, 0, NULL);
  api.Close(got[0], 0, NULL);
  api.Close(g, 0, NULL);
  api.Close(f, 0, NULL);
  CHECK_OK(api.Close(node, 0, NULL));
}

/* Two nodes connected through the C driver. */
static void two_nodes(int async) {
  async_mode = async;
  int base_deact = atomic_load(&deactivations);
  int base_act = atomic_load(&activations);
  IpczHandle broker, client;
  CHECK_OK(api.CreateNode(&c_driver, 0, IPCZ_CREATE_NODE_AS_BROKER, NULL, &broker));
  CHECK_OK(api.CreateNode(&c_driver, 0, 0, NULL, &client));
  IpczDriverHandle t0, t1;
  transport_pair(&t0, &t1);
  IpczHandle bp[2], cp[2];
  CHECK_EQ(api.ConnectNode(broker, t0, 2, 0, NULL, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(api.ConnectNode(broker, t0, 0, 0, NULL, bp), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_OK(api.ConnectNode(broker, t0, 2, 0, NULL, bp));
  CHECK_OK(api.ConnectNode(client, t1, 2, IPCZ_CONNECT_NODE_TO_BROKER, NULL, cp));

  /* Parcels both ways on both initial portals. */
  char buf[64];
  size_t nb;
  CHECK_OK(api.Put(bp[0], "to client", 9, NULL, 0, 0, NULL));
  CHECK_OK(api.Put(cp[1], "to broker", 9, NULL, 0, 0, NULL));
  nb = sizeof buf;
  CHECK_OK(get_wait(cp[0], buf, &nb, NULL, NULL));
  CHECK(nb == 9 && memcmp(buf, "to client", 9) == 0);
  nb = sizeof buf;
  CHECK_OK(get_wait(bp[1], buf, &nb, NULL, NULL));
  CHECK(nb == 9 && memcmp(buf, "to broker", 9) == 0);

  /* A portal moves from the broker to the client; a trap on the moved
   * portal fires into C when the broker puts on the other end (on the
   * driver's thread in async mode). */
  IpczHandle x, y;
  CHECK_OK(api.OpenPortals(broker, 0, NULL, &x, &y));
  CHECK_OK(api.Put(bp[0], "portal", 6, &y, 1, 0, NULL));
  IpczHandle moved;
  size_t nh = 1;
  nb = sizeof buf;
  CHECK_OK(get_wait(cp[0], buf, &nb, &moved, &nh));
  CHECK_EQ(nh, 1);
  struct trap_log log;
  memset(&log, 0, sizeof log);
  pthread_mutex_init(&log.mu, NULL);
  struct IpczTrapConditions conds;
  memset(&conds, 0, sizeof conds);
  conds.size = sizeof conds;
  conds.flags = IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS;
  CHECK_OK(api.Trap(moved, &conds, on_trap, (uintptr_t)&log, 0, NULL, NULL, NULL));
  CHECK_OK(api.Put(x, "across", 6, NULL, 0, 0, NULL));
  double deadline = ctest_now() + 10;
  while (trap_count(&log) == 0 && ctest_now() < deadline) usleep(200);
  CHECK_EQ(trap_count(&log), 1);
  nb = sizeof buf;
  CHECK_OK(get_wait(moved, buf, &nb, NULL, NULL));
  CHECK(nb == 6 && memcmp(buf, "across", 6) == 0);
  /* And back again, many times, to let the route settle. */
  for (int i = 0; i < 50; i++) {
    CHECK_OK(api.Put(moved, &i, sizeof i, NULL, 0, 0, NULL));
    int v = -1;
    nb = sizeof v;
    CHECK_OK(get_wait(x, &v, &nb, NULL, NULL));
    CHECK_EQ(v, i);
  }

  /* A box of a driver object crosses: the C driver serializes it. */
  IpczDriverHandle mem, mapping;
  void* addr;
  CHECK_OK(DrvAllocateSharedMemory(128, 0, NULL, &mem));
  CHECK_OK(DrvMapSharedMemory(mem, 0, NULL, &addr, &mapping));
  strcpy((char*)addr, "shared across nodes");
  IpczHandle box;
  CHECK_OK(api.Box(broker, mem, 0, NULL, &box));
  CHECK_OK(api.Put(bp[1], "box", 3, &box, 1, 0, NULL));
  IpczHandle rbox;
  nh = 1;
  nb = sizeof buf;
  CHECK_OK(get_wait(cp[1], buf, &nb, &rbox, &nh));
  IpczDriverHandle rmem, rmapping;
  void* raddr;
  CHECK_OK(api.Unbox(rbox, 0, NULL, &rmem));
  CHECK_OK(DrvMapSharedMemory(rmem, 0, NULL, &raddr, &rmapping));
  CHECK(strcmp((char*)raddr, "shared across nodes") == 0);
  DrvClose(rmapping, 0, NULL);
  DrvClose(rmem, 0, NULL);
  DrvClose(mapping, 0, NULL);

  /* Reject a parcel that came from the other node: the driver hears of it
   * through ReportBadTransportActivity with our context. */
  CHECK_OK(api.Put(bp[0], "bad", 3, NULL, 0, 0, NULL));
  IpczHandle validator = 0;
  deadline = ctest_now() + 10;
  IpczResult r;
  do {
    nb = sizeof buf;
    r = api.Get(cp[0], 0, NULL, buf, &nb, NULL, NULL, &validator);
    if (r == IPCZ_RESULT_UNAVAILABLE) usleep(200);
  } while (r == IPCZ_RESULT_UNAVAILABLE && ctest_now() < deadline);
  CHECK_OK(r);
  int reports = atomic_load(&bad_reports);
  CHECK_OK(api.Reject(validator, 777, 0, NULL));
  CHECK_EQ(atomic_load(&bad_reports), reports + 1);
  CHECK_OK(api.Close(validator, 0, NULL));

  /* Closing the broker's end: the client's portal sees its peer closed. */
  CHECK_OK(api.Close(bp[0], 0, NULL));
  deadline = ctest_now() + 10;
  struct IpczPortalStatus st;
  do {
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    api.QueryPortalStatus(cp[0], 0, NULL, &st);
    if (!(st.flags & IPCZ_PORTAL_STATUS_PEER_CLOSED)) usleep(200);
  } while (!(st.flags & IPCZ_PORTAL_STATUS_PEER_CLOSED) && ctest_now() < deadline);
  CHECK(st.flags & IPCZ_PORTAL_STATUS_PEER_CLOSED);

  IpczHandle all[] = {bp[1], cp[0], cp[1], x, moved, rbox};
  (void)all;
  api.Close(bp[1], 0, NULL);
  api.Close(cp[0], 0, NULL);
  api.Close(cp[1], 0, NULL);
  api.Close(x, 0, NULL);
  api.Close(moved, 0, NULL);
  CHECK_OK(api.Close(client, 0, NULL));
  CHECK_OK(api.Close(broker, 0, NULL));
  /* Every activated transport gets its final DEACTIVATED call. */
  int activated = atomic_load(&activations) - base_act;
  deadline = ctest_now() + 10;
  while (atomic_load(&deactivations) - base_deact < activated && ctest_now() < deadline)
    usleep(500);
  CHECK(activated >= 2);
  CHECK_EQ(atomic_load(&deactivations) - base_deact, activated);
  if (async) CHECK(atomic_load(&deliveries_off_main) > 0);
}

/* The library's built-in drivers, from C. */
static void builtin_drivers(void) {
  const struct IpczDriver* drv = NULL;
  CHECK_EQ(IpczGoGetDriver(99, 0, NULL, &drv), IPCZ_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(IpczGoGetDriver(IPCZ_GO_DRIVER_MULTIPROCESS, 0, NULL, NULL), IPCZ_RESULT_INVALID_ARGUMENT);
  IpczGoDriverId ids[3] = {IPCZ_GO_DRIVER_INPROCESS, IPCZ_GO_DRIVER_INPROCESS_ASYNC,
                           IPCZ_GO_DRIVER_MULTIPROCESS};
  for (int k = 0; k < 3; k++) {
    CHECK_OK(IpczGoGetDriver(ids[k], 0, NULL, &drv));
    CHECK(drv != NULL && drv->size == sizeof(struct IpczDriver) && drv->Transmit != NULL);
    IpczHandle broker, client;
    CHECK_OK(api.CreateNode(drv, 0, IPCZ_CREATE_NODE_AS_BROKER, NULL, &broker));
    /* A copy of the table is an ordinary C driver: its entries call the
     * built-in driver through C. */
    struct IpczDriver copy = *drv;
    CHECK_OK(api.CreateNode(&copy, 0, 0, NULL, &client));
    IpczDriverHandle t0, t1;
    CHECK_OK(IpczGoCreateTransportPair(ids[k], 0, NULL, &t0, &t1));
    IpczHandle bp, cp;
    CHECK_OK(api.ConnectNode(broker, t0, 1, 0, NULL, &bp));
    CHECK_OK(api.ConnectNode(client, t1, 1, IPCZ_CONNECT_NODE_TO_BROKER, NULL, &cp));
    char buf[32];
    size_t nb = sizeof buf;
    CHECK_OK(api.Put(bp, "builtin", 7, NULL, 0, 0, NULL));
    CHECK_OK(get_wait(cp, buf, &nb, NULL, NULL));
    CHECK(nb == 7 && memcmp(buf, "builtin", 7) == 0);
    /* Driver memory through the table's own entries. */
    IpczDriverHandle mem, mapping;
    void* addr = NULL;
    struct IpczSharedMemoryInfo info = {sizeof info, 0};
    CHECK_OK(drv->AllocateSharedMemory(4096, 0, NULL, &mem));
    CHECK_OK(drv->GetSharedMemoryInfo(mem, 0, NULL, &info));
    CHECK(info.region_num_bytes >= 4096);
    CHECK_OK(drv->MapSharedMemory(mem, 0, NULL, &addr, &mapping));
    memset(addr, 7, 4096);
    CHECK_OK(drv->Close(mapping, 0, NULL));
    CHECK_OK(drv->Close(mem, 0, NULL));
    unsigned char rnd[16] = {0};
    CHECK_OK(drv->GenerateRandomBytes(sizeof rnd, 0, NULL, rnd));
    if (ids[k] == IPCZ_GO_DRIVER_MULTIPROCESS) {
      /* An fd crosses in a box. */
      int fds[2];
      CHECK_OK(pipe(fds));
      IpczDriverHandle fdh;
      CHECK_OK(IpczGoWrapFileDescriptor(fds[1], 0, NULL, &fdh));
      IpczHandle box;
      CHECK_OK(api.Box(broker, fdh, 0, NULL, &box));
      CHECK_OK(api.Put(bp, "fd", 2, &box, 1, 0, NULL));
      IpczHandle rbox;
      size_t nh = 1;
      nb = sizeof buf;
      CHECK_OK(get_wait(cp, buf, &nb, &rbox, &nh));
      IpczDriverHandle rfdh;
      CHECK_OK(api.Unbox(rbox, 0, NULL, &rfdh));
      int fd = -1;
      CHECK_OK(IpczGoUnwrapFileDescriptor(rfdh, 0, NULL, &fd));
      CHECK(write(fd, "ok", 2) == 2);
      CHECK(read(fds[0], buf, 2) == 2 && memcmp(buf, "ok", 2) == 0);
      close(fd);
      close(fds[0]);
      /* A transport from a socket the application made. */
      CHECK_EQ(IpczGoTransportFromFD(fds[0], 0, NULL, &t0), IPCZ_RESULT_INVALID_ARGUMENT);
    }
    api.Close(bp, 0, NULL);
    api.Close(cp, 0, NULL);
    CHECK_OK(api.Close(client, 0, NULL));
    CHECK_OK(api.Close(broker, 0, NULL));
  }
}

/* Two processes with the built-in multiprocess driver: the child's node
 * connects to the parent's broker over an inherited socket, echoes one
 * parcel back with a portal it creates, and exits once the parent closes. */
extern char** environ;

static int ipcz_child(void) {
  const struct IpczDriver* drv;
  IpczHandle node, portal, x, y;
  IpczDriverHandle transport;
  struct IpczAPI a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  if (IpczGetAPI(&a) != IPCZ_RESULT_OK) return 10;
  if (IpczGoGetDriver(IPCZ_GO_DRIVER_MULTIPROCESS, 0, NULL, &drv) != IPCZ_RESULT_OK) return 11;
  if (IpczGoTransportFromFD(3, 0, NULL, &transport) != IPCZ_RESULT_OK) return 12;
  if (a.CreateNode(drv, 0, 0, NULL, &node) != IPCZ_RESULT_OK) return 13;
  if (a.ConnectNode(node, transport, 1, IPCZ_CONNECT_NODE_TO_BROKER, NULL, &portal) != IPCZ_RESULT_OK)
    return 14;
  api = a;
  char buf[64];
  size_t nb = sizeof buf;
  if (get_wait(portal, buf, &nb, NULL, NULL) != IPCZ_RESULT_OK) return 15;
  /* Answer with the same bytes and a new portal whose peer stays here. */
  a.OpenPortals(node, 0, NULL, &x, &y);
  if (a.Put(portal, buf, nb, &y, 1, 0, NULL) != IPCZ_RESULT_OK) return 16;
  if (a.Put(x, "from the child's portal", 23, NULL, 0, 0, NULL) != IPCZ_RESULT_OK) return 17;
  /* Wait for the parent to hang up. */
  for (;;) {
    nb = sizeof buf;
    IpczResult r = get_wait(portal, buf, &nb, NULL, NULL);
    if (r == IPCZ_RESULT_NOT_FOUND) break;
    if (r != IPCZ_RESULT_OK && r != IPCZ_RESULT_UNAVAILABLE) return 18;
  }
  return 0;
}

static void two_processes(const char* self) {
  int sv[2];
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  char* argv[] = {(char*)self, "child", NULL};
  pid_t pid;
  CHECK_OK(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ));
  posix_spawn_file_actions_destroy(&fa);
  close(sv[1]);
  const struct IpczDriver* drv;
  IpczHandle node, portal;
  IpczDriverHandle transport;
  CHECK_OK(IpczGoGetDriver(IPCZ_GO_DRIVER_MULTIPROCESS, 0, NULL, &drv));
  CHECK_OK(IpczGoTransportFromFD(sv[0], 0, NULL, &transport));
  CHECK_OK(api.CreateNode(drv, 0, IPCZ_CREATE_NODE_AS_BROKER, NULL, &node));
  CHECK_OK(api.ConnectNode(node, transport, 1, 0, NULL, &portal));
  CHECK_OK(api.Put(portal, "ping across processes", 21, NULL, 0, 0, NULL));
  char buf[64];
  size_t nb = sizeof buf, nh = 1;
  IpczHandle moved = 0;
  CHECK_OK(get_wait(portal, buf, &nb, &moved, &nh));
  CHECK(nb == 21 && memcmp(buf, "ping across processes", 21) == 0);
  CHECK_EQ(nh, 1);
  nb = sizeof buf;
  CHECK_OK(get_wait(moved, buf, &nb, NULL, NULL));
  CHECK(nb == 23 && memcmp(buf, "from the child's portal", 23) == 0);
  CHECK_OK(api.Close(moved, 0, NULL));
  CHECK_OK(api.Close(portal, 0, NULL));
  int status = 0;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_OK(api.Close(node, 0, NULL));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return ipcz_child();
  main_thread = pthread_self();
  get_api_rules();
  create_node_rules();
  one_node();
  two_nodes(0);
  two_nodes(1);
  builtin_drivers();
  two_processes(argv[0]);
  return ctest_done("ipcz");
}
