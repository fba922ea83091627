//+------------------------------------------------------------------+
//| Session.mqh: one EA instance's life, wired from the parts.       |
//|                                                                  |
//| Mirrors the session half of bridge/sim/terminal.py: hello until  |
//| hello_ack, ping answered at once (the pong), unknown types       |
//| refused, order_send answered from the idempotency cache for a    |
//| known id and refused by the dead-man switch when pings stopped,  |
//| every other request dispatched to Handlers.mqh; then events and  |
//| market data. ExecutorBridge.mq5 calls only the On* methods.      |
//|                                                                  |
//| The start never gives up: a terminal that has just started reads |
//| login 0, DLL imports may not be allowed yet. Start() opens when  |
//| it can; until then OnTimer tries again every EB_START_RETRY_MS   |
//| and the Experts tab says what it waits for (INIT_FAILED would    |
//| unload the EA for good). Every timer slice answers requests and  |
//| flushes the replies (the pong first of all) before any work that |
//| may take time: market data, and the one history kick of the     |
//| slice (CopyGate.mqh) after everything has left.                  |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_SESSION_MQH
#define EXECUTOR_BRIDGE_SESSION_MQH

#include "Protocol.mqh"
#include "Msgpack.mqh"
#include "Clock.mqh"
#include "Link.mqh"
#include "Records.mqh"
#include "Handlers.mqh"
#include "Idempotency.mqh"
#include "TradeEvents.mqh"
#include "MarketData.mqh"
#include "CopyGate.mqh"
#include "Watch.mqh"

#define EB_START_RETRY_MS  2000
#define EB_START_NAG_MS    60000   // the same wait is said again this often

class CBridgeSession
  {
private:
   CBridgeClock      m_clock;
   CBridgeLink       m_link;
   CBridgeHandlers   m_handlers;
   CIdempotencyCache m_cache;
   CTradeEvents      m_events;
   CMarketData       m_market;
   CCopyGate         m_gate;
   CSymbolWatch      m_watch;
   CMpReader         m_doc;
   CMpReader         m_cached_doc;
   CMpWriter         m_w;
   CMpWriter         m_data;
   uchar             m_bytes[];
   bool              m_open;
   string            m_ctl_endpoint;
   string            m_md_endpoint;
   string            m_curve_error;   // the CURVE inputs are unusable: said instead of connecting
   string            m_waiting;       // what the start waits for; "" once open
   ulong             m_next_try_at;
   ulong             m_next_nag_at;

   void SendHello(void)
     {
      CBridgeRecords *records = m_handlers.Records();
      m_link.BeginCtl(m_w, PROTO_HELLO, m_link.NextEventId());
      m_w.Key("terminal");
      records.TerminalRecord(m_w, false);
      m_w.Key("account");
      records.AccountRecord(m_w);
      m_w.KeyInt("server_time", m_clock.ServerNowMs());
      records.TzFields(m_w);
      m_w.Key("symbols");
      m_w.BeginArray();
      for(int i = 0; i < m_market.StreamedCount(); i++)
         m_w.Str(m_market.Streamed(i));
      m_w.End();
      m_w.End();
      m_link.SendNow(m_w);  // not queued: a stale hello is worthless, and it repeats anyway
     }

   // The server's offset is sampled before any tick leaves: on a switch (DST) the hb saying
   // so goes first (the executor aligns the ticks that follow by it), then a fresh hello.
   void WatchOffset(void)
     {
      if(!m_clock.Sample())
         return;
      m_events.Log("INFO", "trade server UTC offset is now " + IntegerToString(m_clock.TzOffsetS()) + " s since "
                   + IntegerToString(m_clock.TzSinceMs()) + " ms UTC");
      m_market.HeartbeatNow();
      m_link.ForgetHello();  // the hello carries the table: send a fresh one
     }

   void ReplyError(const string type, const string id, const int code, const string text)
     {
      m_link.BeginCtl(m_w, type, id);
      m_w.KeyBool("ok", false);
      m_w.Key("error");
      m_w.BeginArray();
      m_w.Int(code);
      m_w.Str(text);
      m_w.End();
      m_w.End();
      m_link.Queue(m_w);
     }

   // A reply whose `data` is the encoded value in m_data.
   void ReplyData(const string type, const string id)
     {
      int n = m_data.Bytes(m_bytes);
      if(n < 0 || !m_cached_doc.Parse(m_bytes, n))
        {
         ReplyError(type, id, MT5_RES_E_FAIL, "reply too large for one frame (" + m_data.Error() + "); ask for less (a narrower group, a smaller count)");
         return;
        }
      m_link.BeginCtl(m_w, type, id);
      m_w.KeyBool("ok", true);
      m_w.Key("data");
      m_w.Copy(m_cached_doc, m_cached_doc.Root());
      m_w.End();
      if(m_w.Failed())
        {
         ReplyError(type, id, MT5_RES_E_FAIL, "reply too large for one frame; ask for less");
         return;
        }
      m_link.Queue(m_w);
     }

   void Answer(const int root)
     {
      string type = m_doc.Str(m_doc.Find(root, "type"));
      int id_node = m_doc.Find(root, "id");
      string id = m_doc.IsStr(id_node) ? m_doc.Str(id_node) : "";
      if(m_doc.Find(root, "ok") >= 0)
         return;  // a reply: the executor does not send us any
      if(type == PROTO_PING)
        {
         m_link.OnPing();
         m_data.Reset();
         m_data.BeginMap();
         m_data.KeyInt("ts", m_clock.NowMs());
         m_data.KeyInt("server_time", m_clock.ServerNowMs());
         m_data.End();
         ReplyData(type, id);
         m_link.Flush();  // the pong leaves now, before the requests queued behind the ping
         return;
        }
      if(type == PROTO_HELLO_ACK)
        {
         if(m_link.OnHelloAck())
            Print("ExecutorBridge: the executor answered hello: bridge up, ", m_market.StreamedCount(),
                  " symbol(s) streamed, CTL ", m_ctl_endpoint, " MD ", m_md_endpoint);
         m_data.Reset();
         m_data.BeginMap();
         m_data.End();
         ReplyData(type, id);
         return;
        }
      if(!CBridgeHandlers::IsKnownType(type))
        {
         ReplyError(type, id, MT5_RES_E_INVALID_PARAMS, "unknown request type");
         return;
        }
      if(type == PROTO_ORDER_SEND)
        {
         AnswerOrderSend(root, type, id);
         return;
        }
      m_data.Reset();
      if(m_handlers.Handle(type, m_doc, root, m_data))
        {
         ReplyData(type, id);
         if(type == PROTO_SUBSCRIBE)
            m_market.AddSubscribed();
        }
      else
         ReplyError(type, id, m_handlers.ErrorCode(), m_handlers.ErrorText());
     }

   // Open the link and wire the parts; false (and the Experts tab says why) while the terminal
   // is not ready for it.
   bool TryOpen(void)
     {
      string why = "";
      long login = AccountInfoInteger(ACCOUNT_LOGIN);
      if(!TerminalInfoInteger(TERMINAL_DLLS_ALLOWED) || !MQLInfoInteger(MQL_DLLS_ALLOWED))
         why = "DLL imports to be allowed: tick \"Allow DLL imports\" in the EA's properties (Common tab) "
               + "or in Tools > Options > Expert Advisors";
      else if(login == 0)
         why = "an account: login reads 0 (the terminal is still starting, or no account is logged in)";
      else if(m_curve_error != "")
         why = "usable CURVE inputs: " + m_curve_error + " (or leave all three empty)";
      else
        {
         m_clock.Sync();
         m_doc.SetLimits(EB_MAX_REQUEST_BYTES, PROTO_MAX_STR_LEN, PROTO_MAX_ARRAY_LEN, PROTO_MAX_MAP_LEN, 200000);
         m_w.SetMaxBytes(PROTO_MAX_FRAME_BYTES);
         m_data.SetMaxBytes(PROTO_MAX_FRAME_BYTES - 1024);  // room for the envelope
         string error = "";
         if(!m_link.Open(m_ctl_endpoint, m_md_endpoint, login, GetPointer(m_clock), error))
           {
            m_link.Close(false);
            why = "the ZeroMQ link: " + error;
           }
        }
      ulong now = GetTickCount64();
      if(why != "")
        {
         if(why != m_waiting || now >= m_next_nag_at)
           {
            Print("ExecutorBridge: waiting for ", why, "; trying again every ", EB_START_RETRY_MS / 1000, " s");
            m_next_nag_at = now + EB_START_NAG_MS;
           }
         m_waiting = why;
         m_next_try_at = now + EB_START_RETRY_MS;
         return false;
        }
      m_open = true;
      m_waiting = "";
      m_handlers.Init(GetPointer(m_clock), GetPointer(m_gate), GetPointer(m_watch));
      m_cache.Init(login);
      m_events.Init(GetPointer(m_link), m_handlers.Records());
      m_market.Init(GetPointer(m_link), m_handlers.Records(), GetPointer(m_handlers), GetPointer(m_clock), GetPointer(m_gate));
      Print("ExecutorBridge: account ", login, " boot ", m_link.Boot(), " connecting CTL ", m_ctl_endpoint, " MD ", m_md_endpoint,
            m_link.Curve() ? " with CURVE" : "",
            ", tz_offset_s ", m_clock.TzOffsetS(), ", ", m_market.StreamedCount(), " symbol(s) to stream, ",
            m_cache.Count(), " remembered order_send ids; saying hello every ", PROTO_HELLO_REPEAT_MS / 1000,
            " s until the executor answers");
      return true;
     }

   void AnswerOrderSend(const int root, const string type, const string id)
     {
      if(id != "" && m_cache.Get(id, m_clock.NowMs(), m_bytes))
        {
         m_data.Reset();
         if(m_cached_doc.Parse(m_bytes, ArraySize(m_bytes)))
           {
            m_data.Copy(m_cached_doc, m_cached_doc.Root());
            ReplyData(type, id);
            return;
           }
        }
      if(m_link.DeadManTripped())
        {
         ReplyError(type, id, MT5_RES_E_FAIL, "dead-man: no ping from executor for " + DoubleToString(PROTO_DEAD_MAN_S, 0) + " s");
         return;
        }
      m_data.Reset();
      if(!m_handlers.Handle(type, m_doc, root, m_data))
        {
         ReplyError(type, id, m_handlers.ErrorCode(), m_handlers.ErrorText());
         return;
        }
      int n = m_data.Bytes(m_bytes);
      if(id != "" && n > 0)
         m_cache.Put(id, m_bytes, m_clock.NowMs());
      ReplyData(type, id);
      m_events.Collect(true);
     }

public:
                     CBridgeSession(void) { m_open = false; m_waiting = ""; m_curve_error = ""; m_next_try_at = 0; m_next_nag_at = 0; }

   // Opens now if the terminal is ready, else OnTimer keeps trying; never fails for good.
   // The keys: the EA's CURVE inputs (all empty: no CURVE).
   void Start(const string ctl_endpoint, const string md_endpoint, const string server_key = "",
              const string public_key = "", const string secret_key = "")
     {
      m_ctl_endpoint = ctl_endpoint;
      m_md_endpoint = md_endpoint;
      m_curve_error = m_link.SetCurve(server_key, public_key, secret_key);
      TryOpen();
     }

   void OnDeinit(const string why)
     {
      if(!m_open)
        {
         if(m_waiting != "")
            Print("ExecutorBridge: stopped (", why, ") while waiting for ", m_waiting);
         return;
        }
      m_events.Log("INFO", "EA stopping: " + why);
      m_link.Flush();
      m_watch.Release(true);
      m_link.Close(true);  // CTL lingers EB_STOP_LINGER_MS: the "EA stopping" line gets out
      m_open = false;
     }

   // Drain requests and flush the replies, then events, hello, market data; flush again, and
   // only then the slice's history kick.
   void OnTimer(void)
     {
      if(!m_open)
        {
         if(GetTickCount64() >= m_next_try_at)
            TryOpen();
         return;
        }
      m_gate.StartSlice();
      int budget = EB_MAX_FRAMES_PER_DRAIN;
      while(m_link.Receive(m_doc, budget))
         Answer(m_doc.Root());
      m_link.Flush();
      m_events.Collect(false);
      if(m_clock.SyncDue())
         m_clock.Sync();
      WatchOffset();
      if(m_link.HelloDue())
         SendHello();
      m_market.Poll();
      m_cache.Prune(m_clock.NowMs());
      m_link.Flush();
      m_gate.KickOne();
      m_watch.Release(false);
     }

   void OnTick(void)
     {
      if(!m_open)
         return;
      m_gate.StartSlice();
      WatchOffset();
      m_market.Poll();
     }

   void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
     {
      if(m_open)
         m_events.OnTransaction(trans, request, result);
     }
  };

#endif // EXECUTOR_BRIDGE_SESSION_MQH
