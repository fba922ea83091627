//+------------------------------------------------------------------+
//| Link.mqh: the EA's two ZeroMQ sockets and their liveness rules.  |
//|                                                                  |
//| CTL: DEALER connect, routing id mt5-<login>, LINGER 0, IMMEDIATE,|
//| MAXMSGSIZE 1 MiB (a bigger frame from the executor drops the     |
//| connection inside libzmq, never reaching our buffer);            |
//| requests in, replies and events out through a bounded outbox     |
//| (a frame that cannot leave now waits; the oldest is dropped when |
//| the outbox is full). MD: PUB connect; a publish never waits (a   |
//| lost batch shows as a seq gap and the executor backfills).       |
//| Liveness: hello every PROTO_HELLO_REPEAT_MS until hello_ack;     |
//| no ping for PROTO_MISSED_BEATS_FOR_DOWN beats = executor gone,   |
//| hello again; the dead-man trips after PROTO_DEAD_MAN_MS without  |
//| a ping. Mirrors bridge/sim/terminal.py. Never blocks, except     |
//| Close(): CTL lingers EB_STOP_LINGER_MS so "EA stopping" leaves.  |
//| A send or receive error other than EAGAIN is logged with its     |
//| zmq_errno() (at most one line per EB_ERROR_LOG_MS).              |
//| CURVE (SetCurve, before Open): both sockets become CURVE clients |
//| of the executor's public key with this terminal's pair, as       |
//| `run.py keys curve-terminal LOGIN` printed them; required by an  |
//| executor whose EA endpoints are not loopback (--ea-curve). A key |
//| the executor has not allow-listed for this login is refused in   |
//| the handshake: the EA then says hello forever, unanswered.       |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_LINK_MQH
#define EXECUTOR_BRIDGE_LINK_MQH

#include "Protocol.mqh"
#include "Msgpack.mqh"
#include "ZmqImport.mqh"
#include "Clock.mqh"

#define EB_OUTBOX_MAX           10000   // as bridge/sim/terminal.py OUTBOX_MAX
#define EB_MAX_FRAMES_PER_DRAIN 1000    // as sim_terminal.MAX_FRAMES_PER_STEP
#define EB_MAX_REQUEST_BYTES    1048576 // executor requests are small; a bigger frame is refused unread
#define EB_MAX_TOPICS           512
#define EB_STOP_LINGER_MS       250     // at stop only: long enough for the last frames, short enough for OnDeinit
#define EB_ERROR_LOG_MS         10000
#define EB_CURVE_KEY_CHARS      40      // a CURVE key in Z85

struct EbFrame
  {
   uchar data[];
  };

class CBridgeLink
  {
private:
   long          m_ctx;
   long          m_ctl;
   long          m_md;
   long          m_login;
   string        m_boot;
   CBridgeClock *m_clock;
   uchar         m_rx[];
   uchar         m_tx[];
   EbFrame       m_outbox[];
   int           m_out_head;
   int           m_out_count;
   long          m_ctl_seq;
   string        m_topics[];
   long          m_topic_seq[];
   long          m_event_no;
   bool          m_hello_acked;
   ulong         m_next_hello_at;
   ulong         m_last_ping_at;   // 0 = no ping heard yet
   ulong         m_next_hb_at;
   int           m_dropped;
   ulong         m_next_error_log_at;
   int           m_errors_unlogged;
   string        m_server_key;     // CURVE: all three set, or none
   string        m_public_key;
   string        m_secret_key;

   // A zmq_send/zmq_recv failure: EAGAIN is "try later" and silent; anything else is logged.
   void SocketError(const string what)
     {
      int e = zmq_errno();
      if(e == ZMQ_EAGAIN)
         return;
      ulong now = GetTickCount64();
      if(now < m_next_error_log_at)
        {
         m_errors_unlogged++;
         return;
        }
      m_next_error_log_at = now + EB_ERROR_LOG_MS;
      Print("ExecutorBridge: ", what, " failed: zmq_errno ", e, " (", ErrnoName(e), ")",
            m_errors_unlogged > 0 ? "; " + IntegerToString(m_errors_unlogged) + " more errors not shown" : "");
      m_errors_unlogged = 0;
     }

   bool SetLong(const long socket, const int option, const long value)
     {
      uchar bytes[8];
      for(int i = 0; i < 8; i++)
         bytes[i] = (uchar)((value >> (8 * i)) & 0xFF);  // little-endian int64_t
      return zmq_setsockopt(socket, option, bytes, 8) == 0;
     }

   bool SetInt(const long socket, const int option, const int value)
     {
      uchar bytes[4];
      for(int i = 0; i < 4; i++)
         bytes[i] = (uchar)((value >> (8 * i)) & 0xFF);  // little-endian int, as on x64
      return zmq_setsockopt(socket, option, bytes, 4) == 0;
     }

   bool SetBytes(const long socket, const int option, const string text)
     {
      uchar bytes[];
      int n = StringToCharArray(text, bytes, 0, -1, CP_UTF8) - 1;  // without the NUL
      return zmq_setsockopt(socket, option, bytes, (ulong)n) == 0;
     }

   // Before connect. The secret key only ever goes to libzmq: never to a log line.
   bool SetCurveKeys(const long socket)
     {
      return SetBytes(socket, ZMQ_CURVE_SERVERKEY, m_server_key) && SetBytes(socket, ZMQ_CURVE_PUBLICKEY, m_public_key)
             && SetBytes(socket, ZMQ_CURVE_SECRETKEY, m_secret_key);
     }

   static string NewBoot(void)
     {
      // 12 hex digits like secrets.token_hex(6); only needs to differ between OnInit calls.
      MathSrand((int)(GetMicrosecondCount() ^ (ulong)TimeLocal() ^ (ulong)GetTickCount64()));
      string boot = "";
      for(int i = 0; i < 6; i++)
         boot += StringFormat("%02x", MathRand() & 0xFF);
      return boot;
     }

   int TopicIndex(const string topic)
     {
      int n = ArraySize(m_topics);
      for(int i = 0; i < n; i++)
         if(m_topics[i] == topic)
            return i;
      if(n >= EB_MAX_TOPICS)
         return -1;
      ArrayResize(m_topics, n + 1);
      ArrayResize(m_topic_seq, n + 1);
      m_topics[n] = topic;
      m_topic_seq[n] = 0;
      return n;
     }

public:
                     CBridgeLink(void)
     {
      m_ctx = 0; m_ctl = 0; m_md = 0; m_login = 0; m_boot = ""; m_clock = NULL;
      m_out_head = 0; m_out_count = 0; m_ctl_seq = 0; m_event_no = 0;
      m_hello_acked = false; m_next_hello_at = 0; m_last_ping_at = 0; m_next_hb_at = 0; m_dropped = 0;
      m_next_error_log_at = 0; m_errors_unlogged = 0;
      m_server_key = ""; m_public_key = ""; m_secret_key = "";
     }

   // The EA's CURVE inputs; "" when they are all empty (no CURVE), else what is wrong with them.
   string SetCurve(const string server_key, const string public_key, const string secret_key)
     {
      m_server_key = ""; m_public_key = ""; m_secret_key = "";
      if(server_key == "" && public_key == "" && secret_key == "")
         return "";
      if(StringLen(server_key) != EB_CURVE_KEY_CHARS || StringLen(public_key) != EB_CURVE_KEY_CHARS
         || StringLen(secret_key) != EB_CURVE_KEY_CHARS)
         return "CURVE needs all three keys, 40 characters each, as `run.py keys curve-terminal LOGIN` prints them";
      m_server_key = server_key; m_public_key = public_key; m_secret_key = secret_key;
      return "";
     }

   bool Curve(void) const { return m_server_key != ""; }

   static string ErrnoName(const int e)
     {
      switch(e)
        {
         case ZMQ_EAGAIN:       return "EAGAIN";
         case ZMQ_EINTR:        return "EINTR: interrupted, retried later";
         case ZMQ_EHOSTUNREACH: return "EHOSTUNREACH";
         case ZMQ_ENOTSOCK:     return "ENOTSOCK: the socket is closed";
         case ZMQ_EFSM:         return "EFSM";
         case ZMQ_ETERM:        return "ETERM: the context is terminating";
         case ZMQ_EMTHREAD:     return "EMTHREAD";
        }
      return "see zmq.h / errno.h";
     }

   // A new EA instance (new boot) connecting both sockets; `error` says why not.
   bool Open(const string ctl_endpoint, const string md_endpoint, const long login, CBridgeClock *clock, string &error)
     {
      m_login = login;
      m_clock = clock;
      m_boot = NewBoot();
      m_ctl_seq = 0;
      m_event_no = 0;
      ArrayResize(m_topics, 0);
      ArrayResize(m_topic_seq, 0);
      ArrayResize(m_outbox, EB_OUTBOX_MAX);
      m_out_head = 0;
      m_out_count = 0;
      m_hello_acked = false;
      m_next_hello_at = 0;
      m_last_ping_at = 0;
      m_next_hb_at = 0;
      if(ArrayResize(m_rx, EB_MAX_REQUEST_BYTES) != EB_MAX_REQUEST_BYTES)
        { error = "cannot allocate the receive buffer"; return false; }
      m_ctx = zmq_ctx_new();
      if(m_ctx == 0)
        { error = "zmq_ctx_new failed: is MQL5\\Libraries\\libzmq.dll the x64 libzmq 4.3.5?"; return false; }
      m_ctl = zmq_socket(m_ctx, ZMQ_DEALER);
      m_md = zmq_socket(m_ctx, ZMQ_PUB);
      if(m_ctl == 0 || m_md == 0)
        { error = "zmq_socket failed, errno " + IntegerToString(zmq_errno()); return false; }
      if(!SetBytes(m_ctl, ZMQ_ROUTING_ID, PROTO_ROUTING_ID_PREFIX + IntegerToString(login))
         || !SetInt(m_ctl, ZMQ_LINGER, 0) || !SetInt(m_ctl, ZMQ_IMMEDIATE, 1)
         || !SetLong(m_ctl, ZMQ_MAXMSGSIZE, EB_MAX_REQUEST_BYTES) || !SetInt(m_md, ZMQ_LINGER, 0))
        { error = "zmq_setsockopt failed, errno " + IntegerToString(zmq_errno()); return false; }
      if(Curve() && !(SetCurveKeys(m_ctl) && SetCurveKeys(m_md)))
        { error = "the CURVE keys were refused (zmq_errno " + IntegerToString(zmq_errno())
                  + "): copy them again from `run.py keys curve-terminal`, and is libzmq.dll 4.3.5 with CURVE?"; return false; }
      uchar endpoint[];
      StringToCharArray(ctl_endpoint, endpoint, 0, -1, CP_UTF8);
      if(zmq_connect(m_ctl, endpoint) != 0)
        { error = "cannot connect CTL to " + ctl_endpoint + ", errno " + IntegerToString(zmq_errno()); return false; }
      StringToCharArray(md_endpoint, endpoint, 0, -1, CP_UTF8);
      if(zmq_connect(m_md, endpoint) != 0)
        { error = "cannot connect MD to " + md_endpoint + ", errno " + IntegerToString(zmq_errno()); return false; }
      return true;
     }

   // `linger`: give CTL's queued frames (the "EA stopping" log) EB_STOP_LINGER_MS to leave;
   // zmq_ctx_term waits at most that long, and not at all without a connected executor
   // (IMMEDIATE queues nothing then). MD always drops: a stale tick is worth nothing.
   void Close(const bool linger)
     {
      if(m_ctl != 0)
        {
         if(linger)
            SetInt(m_ctl, ZMQ_LINGER, EB_STOP_LINGER_MS);
         zmq_close(m_ctl);
        }
      if(m_md != 0) zmq_close(m_md);
      if(m_ctx != 0) zmq_ctx_term(m_ctx);
      m_ctl = 0; m_md = 0; m_ctx = 0;
     }

   string Boot(void) const  { return m_boot; }
   long   Login(void) const { return m_login; }
   bool   HelloAcked(void) const { return m_hello_acked; }

   // --- envelope ---
   string NextEventId(void) { m_event_no++; return "ev-" + IntegerToString(m_event_no); }

   // Opens the message map and writes the envelope; the caller adds its fields and End()s.
   void BeginCtl(CMpWriter &w, const string type, const string id)
     {
      m_ctl_seq++;
      WriteEnvelope(w, type, id, m_ctl_seq);
     }

   void BeginMd(CMpWriter &w, const string topic, const string type)
     {
      int i = TopicIndex(topic);
      long seq = 0;
      if(i >= 0) { m_topic_seq[i]++; seq = m_topic_seq[i]; }
      WriteEnvelope(w, type, "", seq);
     }

   void WriteEnvelope(CMpWriter &w, const string type, const string id, const long seq)
     {
      w.Reset();
      w.BeginMap();
      w.KeyInt("v", PROTO_VERSION);
      w.KeyStr("type", type);
      w.KeyStr("id", id);
      w.KeyInt("seq", seq);
      w.KeyInt("ts", m_clock.NowMs());
      w.KeyStr("boot", m_boot);
      w.KeyInt("term", m_login);
     }

   // --- CTL out ---
   // Queue a finished message (reply or event); it leaves in Flush(), in order.
   bool Queue(const CMpWriter &w)
     {
      if(w.Failed())
        { Print("ExecutorBridge: message not sent: ", w.Error()); return false; }
      if(m_out_count >= EB_OUTBOX_MAX)
        {
         m_out_head = (m_out_head + 1) % EB_OUTBOX_MAX;
         m_out_count--;
         m_dropped++;
         Print("ExecutorBridge: outbox full (", EB_OUTBOX_MAX, " frames): oldest frame dropped");
        }
      int slot = (m_out_head + m_out_count) % EB_OUTBOX_MAX;
      w.Bytes(m_outbox[slot].data);
      m_out_count++;
      return true;
     }

   // Send now or never (the hello: a stale one is worthless and it repeats anyway).
   void SendNow(const CMpWriter &w)
     {
      int n = w.Bytes(m_tx);
      if(n > 0 && zmq_send(m_ctl, m_tx, (ulong)n, ZMQ_DONTWAIT) < 0)
         SocketError("CTL send (hello)");
     }

   void Flush(void)
     {
      while(m_out_count > 0)
        {
         int n = ArraySize(m_outbox[m_out_head].data);
         if(zmq_send(m_ctl, m_outbox[m_out_head].data, (ulong)n, ZMQ_DONTWAIT) < 0)
           {
            SocketError("CTL send");  // EAGAIN (no executor yet, or its queue is full) is silent
            return;                   // whatever it was, the frame waits for the next Flush
           }
         ArrayFree(m_outbox[m_out_head].data);
         m_out_head = (m_out_head + 1) % EB_OUTBOX_MAX;
         m_out_count--;
        }
     }

   // --- CTL in ---
   // The next decodable request into `doc`; false when none is waiting. Bad frames are skipped.
   bool Receive(CMpReader &doc, int &budget)
     {
      while(budget > 0)
        {
         budget--;
         int n = zmq_recv(m_ctl, m_rx, (ulong)EB_MAX_REQUEST_BYTES, ZMQ_DONTWAIT);
         if(n < 0)
           {
            SocketError("CTL receive");  // EAGAIN: drained
            return false;
           }
         bool more = HasMore();
         if(more)
           {
            DiscardRest();
            Print("ExecutorBridge: ignored a multi-frame message; expected 1 frame");
            continue;
           }
         if(n > EB_MAX_REQUEST_BYTES)
           {
            Print("ExecutorBridge: ignored a frame of ", n, " bytes; the limit is ", EB_MAX_REQUEST_BYTES);
            continue;
           }
         if(!doc.Parse(m_rx, n))
           {
            Print("ExecutorBridge: ignored an undecodable frame: ", doc.Error());
            continue;
           }
         int root = doc.Root();
         if(!doc.IsMap(root) || doc.Long(doc.Find(root, "v")) != PROTO_VERSION || !doc.IsStr(doc.Find(root, "type")))
           {
            Print("ExecutorBridge: ignored a frame that is not a version ", PROTO_VERSION, " message");
            continue;
           }
         return true;
        }
      return false;
     }

   bool HasMore(void)
     {
      uchar value[4];
      ArrayInitialize(value, 0);
      ulong size = 4;
      if(zmq_getsockopt(m_ctl, ZMQ_RCVMORE, value, size) != 0)
         return false;
      return value[0] != 0;
     }

   void DiscardRest(void)
     {
      uchar scrap[1];
      for(int i = 0; i < 64 && HasMore(); i++)
         zmq_recv(m_ctl, scrap, 1, ZMQ_DONTWAIT);
     }

   // --- MD out ---
   void Publish(const string topic, const CMpWriter &w)
     {
      if(w.Failed())
        { Print("ExecutorBridge: ", topic, " not published: ", w.Error()); return; }
      uchar head[];
      int t = StringToCharArray(topic, head, 0, -1, CP_UTF8) - 1;
      int n = w.Bytes(m_tx);
      // PUB never blocks: at the high-water mark it drops, and the seq gap tells the executor.
      if(zmq_send(m_md, head, (ulong)t, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 || zmq_send(m_md, m_tx, (ulong)n, ZMQ_DONTWAIT) < 0)
         SocketError("MD publish of " + topic);
     }

   // --- liveness ---
   void OnPing(void)     { m_last_ping_at = GetTickCount64(); }
   // true on the first acknowledgement of this hello round (the Experts tab says "bridge up" then)
   bool OnHelloAck(void)  { bool first = !m_hello_acked; m_hello_acked = true; return first; }

   bool HelloDue(void)
     {
      ulong now = GetTickCount64();
      // Pings stopped: the executor restarted or went away; introduce ourselves again.
      if(m_hello_acked && m_last_ping_at != 0
         && now - m_last_ping_at > (ulong)(PROTO_MISSED_BEATS_FOR_DOWN * PROTO_PING_INTERVAL_MS))
        {
         m_hello_acked = false;
         Print("ExecutorBridge: no ping from the executor for ", PROTO_MISSED_BEATS_FOR_DOWN,
               " s (stopped or restarted?); saying hello again every ", PROTO_HELLO_REPEAT_MS / 1000, " s");
        }
      if(m_hello_acked || now < m_next_hello_at)
         return false;
      m_next_hello_at = now + PROTO_HELLO_REPEAT_MS;
      return true;
     }

   void ForgetHello(void) { m_hello_acked = false; m_next_hello_at = 0; }

   bool HeartbeatDue(void)
     {
      ulong now = GetTickCount64();
      if(now < m_next_hb_at)
         return false;
      m_next_hb_at = now + PROTO_HEARTBEAT_INTERVAL_MS;
      return true;
     }

   // No ping for PROTO_DEAD_MAN_MS: queued trade requests are refused (never before the first ping).
   bool DeadManTripped(void) const
     {
      return m_last_ping_at != 0 && GetTickCount64() - m_last_ping_at > (ulong)PROTO_DEAD_MAN_MS;
     }
  };

#endif // EXECUTOR_BRIDGE_LINK_MQH
