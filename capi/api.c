/*
 * IpczGetAPI and the built-in driver tables.
 *
 * The tables are filled with the addresses of Go-exported functions (see
 * _cgo_export.h). Every assignment is checked against the member's type in
 * the public header: -Werror=incompatible-pointer-types makes a mismatch a
 * build error on every gcc version.
 */
#include "capi.h"
#include "_cgo_export.h"

uint64_t capi_empty_payload;

/* IpczGetAPI follows the seed's size rules: the caller's api->size must be
 * at least the version-0 size (sizeof(struct IpczAPI), 136 bytes, up to
 * and including Unbox); the library fills exactly that much, however large
 * the caller's table, and sets api->size to it. */
IpczResult IPCZ_API IpczGetAPI(struct IpczAPI* api) {
  struct IpczAPI table;
  if (api == NULL || api->size < sizeof(struct IpczAPI)) {
    return IPCZ_RESULT_INVALID_ARGUMENT;
  }
  memset(&table, 0, sizeof table);
  table.size = sizeof table;
  table.Close = capi_ipcz_Close;
  table.CreateNode = capi_ipcz_CreateNode;
  table.ConnectNode = capi_ipcz_ConnectNode;
  table.OpenPortals = capi_ipcz_OpenPortals;
  table.MergePortals = capi_ipcz_MergePortals;
  table.QueryPortalStatus = capi_ipcz_QueryPortalStatus;
  table.Put = capi_ipcz_Put;
  table.BeginPut = capi_ipcz_BeginPut;
  table.EndPut = capi_ipcz_EndPut;
  table.Get = capi_ipcz_Get;
  table.BeginGet = capi_ipcz_BeginGet;
  table.EndGet = capi_ipcz_EndGet;
  table.Trap = capi_ipcz_Trap;
  table.Reject = capi_ipcz_Reject;
  table.Box = capi_ipcz_Box;
  table.Unbox = capi_ipcz_Unbox;
  memcpy(api, &table, sizeof table);
  return IPCZ_RESULT_OK;
}

/* One set of IpczDriver entries per built-in driver: each forwards to the
 * Go entry with the driver's id. */
#define CAPI_DRIVER_ENTRIES(ID)                                               \
  static IpczResult IPCZ_API d##ID##_Close(IpczDriverHandle h, uint32_t f,   \
                                           const void* o) {                  \
    return capi_drv_Close(ID, h, f, o);                                      \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_Serialize(                              \
      IpczDriverHandle h, IpczDriverHandle t, uint32_t f, const void* o,     \
      void* data, size_t* nb, IpczDriverHandle* hs, size_t* nh) {            \
    return capi_drv_Serialize(ID, h, t, f, o, data, nb, hs, nh);             \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_Deserialize(                            \
      const void* data, size_t nb, const IpczDriverHandle* hs, size_t nh,    \
      IpczDriverHandle t, uint32_t f, const void* o, IpczDriverHandle* h) {  \
    return capi_drv_Deserialize(ID, data, nb, hs, nh, t, f, o, h);           \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_CreateTransports(                       \
      IpczDriverHandle t0, IpczDriverHandle t1, uint32_t f, const void* o,   \
      IpczDriverHandle* n0, IpczDriverHandle* n1) {                          \
    return capi_drv_CreateTransports(ID, t0, t1, f, o, n0, n1);              \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_ActivateTransport(                      \
      IpczDriverHandle dt, IpczHandle t, IpczTransportActivityHandler ah,    \
      uint32_t f, const void* o) {                                           \
    return capi_drv_ActivateTransport(ID, dt, t, ah, f, o);                  \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_DeactivateTransport(                    \
      IpczDriverHandle dt, uint32_t f, const void* o) {                      \
    return capi_drv_DeactivateTransport(ID, dt, f, o);                       \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_Transmit(                               \
      IpczDriverHandle dt, const void* data, size_t nb,                      \
      const IpczDriverHandle* hs, size_t nh, uint32_t f, const void* o) {    \
    return capi_drv_Transmit(ID, dt, data, nb, hs, nh, f, o);                \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_ReportBadTransportActivity(             \
      IpczDriverHandle t, uintptr_t c, uint32_t f, const void* o) {          \
    return capi_drv_ReportBadTransportActivity(ID, t, c, f, o);              \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_AllocateSharedMemory(                   \
      size_t n, uint32_t f, const void* o, IpczDriverHandle* m) {            \
    return capi_drv_AllocateSharedMemory(ID, n, f, o, m);                    \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_GetSharedMemoryInfo(                    \
      IpczDriverHandle m, uint32_t f, const void* o,                         \
      struct IpczSharedMemoryInfo* i) {                                      \
    return capi_drv_GetSharedMemoryInfo(ID, m, f, o, i);                     \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_DuplicateSharedMemory(                  \
      IpczDriverHandle m, uint32_t f, const void* o, IpczDriverHandle* n) {  \
    return capi_drv_DuplicateSharedMemory(ID, m, f, o, n);                   \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_MapSharedMemory(                        \
      IpczDriverHandle m, uint32_t f, const void* o, void** a,               \
      IpczDriverHandle* mp) {                                                \
    return capi_drv_MapSharedMemory(ID, m, f, o, a, mp);                     \
  }                                                                          \
  static IpczResult IPCZ_API d##ID##_GenerateRandomBytes(                    \
      size_t n, uint32_t f, const void* o, void* b) {                        \
    return capi_drv_GenerateRandomBytes(ID, n, f, o, b);                     \
  }

#define CAPI_DRIVER_TABLE(ID)                                                 \
  {                                                                          \
    sizeof(struct IpczDriver), d##ID##_Close, d##ID##_Serialize,             \
        d##ID##_Deserialize, d##ID##_CreateTransports,                       \
        d##ID##_ActivateTransport, d##ID##_DeactivateTransport,              \
        d##ID##_Transmit, d##ID##_ReportBadTransportActivity,                \
        d##ID##_AllocateSharedMemory, d##ID##_GetSharedMemoryInfo,           \
        d##ID##_DuplicateSharedMemory, d##ID##_MapSharedMemory,              \
        d##ID##_GenerateRandomBytes                                          \
  }

CAPI_DRIVER_ENTRIES(1)
CAPI_DRIVER_ENTRIES(2)
CAPI_DRIVER_ENTRIES(3)

/* Index 0 is unused (no driver has id 0). */
const struct IpczDriver capi_builtin_drivers[4] = {
    {0},
    CAPI_DRIVER_TABLE(1),
    CAPI_DRIVER_TABLE(2),
    CAPI_DRIVER_TABLE(3),
};
