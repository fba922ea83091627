//+------------------------------------------------------------------+
//| ZmqImport.mqh: the libzmq C functions the EA calls, and nothing  |
//| more.                                                            |
//|                                                                  |
//| THE DLL: the official libzmq 4.3.5 release for Windows x64,      |
//|   https://github.com/zeromq/libzmq/releases/tag/v4.3.5: its      |
//|   x64 MSVC zip holds libzmq-v14x-mt-4_3_5.dll (for instance      |
//|   libzmq-v143-mt-4_3_5.dll; pick the x64 one, not x86). Copy it  |
//|   to <data folder>\MQL5\Libraries\ and RENAME it libzmq.dll. It  |
//|   needs the MSVC 2015-2022 runtime (vcruntime140.dll), present   |
//|   on any Windows that runs MT5; under Wine: winetricks vcrun2022.|
//|   The version is pinned: the option numbers below are 4.3.x's.   |
//|   (Asset names were not checked from this machine: no network.)  |
//|                                                                  |
//| WHY NOT the mql-zmq binding (dingmaotu/mql-zmq): it no longer    |
//|   compiles on current MetaEditor builds (its Mql/ helper library |
//|   trips newer compiler rules) and wraps far more than we need.   |
//|   A thin #import has nothing to break.                           |
//|                                                                  |
//| Pointers (void*) are `long` and size_t is `ulong`: MT5 is 64-bit |
//| only. Strings go as NUL-terminated uchar arrays (StringToChar-   |
//| Array copies the NUL). Socket options go as little-endian bytes |
//| (4 for an int, 8 for ZMQ_MAXMSGSIZE's int64), so one             |
//| zmq_setsockopt declaration serves every option.                  |
//|                                                                  |
//| Deliberately not imported: zmq_msg_* (zmq_recv into a fixed      |
//| buffer bounds each frame without a memcpy import to read         |
//| zmq_msg_data's pointer, and reports the real size of an oversize |
//| frame so it can be refused) and zmq_poll (OnTimer drains with    |
//| ZMQ_DONTWAIT until EAGAIN; nothing ever waits).                  |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_ZMQ_IMPORT_MQH
#define EXECUTOR_BRIDGE_ZMQ_IMPORT_MQH

// zmq.h 4.3.x
#define ZMQ_PUB           1
#define ZMQ_DEALER        5
#define ZMQ_ROUTING_ID    5    // ZMQ_IDENTITY
#define ZMQ_RCVMORE       13
#define ZMQ_LINGER        17
#define ZMQ_MAXMSGSIZE    22   // int64_t: set with 8 bytes, not 4 (zmq_setsockopt says EINVAL otherwise)
#define ZMQ_SNDHWM        23
#define ZMQ_RCVHWM        24
#define ZMQ_IMMEDIATE     39
#define ZMQ_CURVE_PUBLICKEY 48 // CURVE keys: 40 Z85 characters (libzmq decodes them), before connect
#define ZMQ_CURVE_SECRETKEY 49
#define ZMQ_CURVE_SERVERKEY 50 // setting it makes the socket a CURVE client of that server
#define ZMQ_DONTWAIT      1
#define ZMQ_SNDMORE       2

// zmq_errno() values of the Windows DLL. zmq.h takes an error name from <errno.h> when the C
// runtime defines it and falls back to ZMQ_HAUSNUMERO + n only when it does not. libzmq's
// Windows builds use MSVC (v14x), whose errno.h defines EAGAIN 11, EINTR 4 and, since VS2010,
// the "POSIX supplement" (EHOSTUNREACH 110, ENOTSOCK 128, ...): those win. ETERM, EFSM and
// EMTHREAD exist in no errno.h, so they are always ZMQ_HAUSNUMERO + 53, + 51, + 54.
// (EHOSTUNREACH only comes from a ROUTER with ROUTER_MANDATORY; our DEALER and PUB never
// return it, but a log line naming it must not call it ETERM.)
#define ZMQ_HAUSNUMERO    156384712
#define ZMQ_EINTR         4
#define ZMQ_EAGAIN        11
#define ZMQ_EHOSTUNREACH  110
#define ZMQ_ENOTSOCK      128
#define ZMQ_EFSM          156384763   // ZMQ_HAUSNUMERO + 51
#define ZMQ_ETERM         156384765   // ZMQ_HAUSNUMERO + 53
#define ZMQ_EMTHREAD      156384766   // ZMQ_HAUSNUMERO + 54

#import "libzmq.dll"
long zmq_ctx_new(void);
int  zmq_ctx_term(long context);
long zmq_socket(long context, int type);
int  zmq_close(long socket);
int  zmq_setsockopt(long socket, int option, const uchar &optval[], ulong optvallen);
int  zmq_getsockopt(long socket, int option, uchar &optval[], ulong &optvallen);
int  zmq_connect(long socket, const uchar &endpoint[]);
int  zmq_send(long socket, const uchar &buf[], ulong len, int flags);
int  zmq_recv(long socket, uchar &buf[], ulong len, int flags);
int  zmq_errno(void);
#import

#endif // EXECUTOR_BRIDGE_ZMQ_IMPORT_MQH
