//+------------------------------------------------------------------+
//| TradeEvents.mqh: what the EA tells the executor unasked on CTL.  |
//|                                                                  |
//| Mirrors bridge/sim/events.py TradeEvents: every trade            |
//| transaction forwarded as it happens, then (once per timer step)  |
//| `positions` and `orders` snapshots with a version counter, an    |
//| `account` event on change (balance, credit, trade_allowed,       |
//| trade_expert, leverage or a trade: at once; equity and margin    |
//| moves: at most once a second), `terminal_status` when connected  |
//| or trade_allowed flips. Events are queued on the link's outbox,  |
//| never dropped while it has room.                                 |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_TRADE_EVENTS_MQH
#define EXECUTOR_BRIDGE_TRADE_EVENTS_MQH

#include "Protocol.mqh"
#include "Msgpack.mqh"
#include "Link.mqh"
#include "Records.mqh"

#define EB_EQUITY_EVENT_INTERVAL_MS 1000   // as sim_events.EQUITY_EVENT_INTERVAL_S

class CTradeEvents
  {
private:
   CBridgeLink    *m_link;
   CBridgeRecords *m_records;
   CMpWriter       m_w;
   long            m_version;        // moves with every transaction
   long            m_version_sent;
   bool            m_account_urgent;
   ulong           m_account_sent_at;
   bool            m_account_known;
   double          m_sent_now[5];    // balance, credit, trade_allowed, trade_expert, leverage
   double          m_sent_moving[5]; // equity, profit, margin, margin_free, margin_level
   bool            m_connected;
   bool            m_trade_allowed;

   void ReadNow(double &v[])
     {
      v[0] = AccountInfoDouble(ACCOUNT_BALANCE);
      v[1] = AccountInfoDouble(ACCOUNT_CREDIT);
      v[2] = (double)AccountInfoInteger(ACCOUNT_TRADE_ALLOWED);
      v[3] = (double)AccountInfoInteger(ACCOUNT_TRADE_EXPERT);
      v[4] = (double)AccountInfoInteger(ACCOUNT_LEVERAGE);
     }

   void ReadMoving(double &v[])
     {
      v[0] = AccountInfoDouble(ACCOUNT_EQUITY);
      v[1] = AccountInfoDouble(ACCOUNT_PROFIT);
      v[2] = AccountInfoDouble(ACCOUNT_MARGIN);
      v[3] = AccountInfoDouble(ACCOUNT_MARGIN_FREE);
      v[4] = AccountInfoDouble(ACCOUNT_MARGIN_LEVEL);
     }

public:
   void Init(CBridgeLink *link, CBridgeRecords *records)
     {
      m_link = link;
      m_records = records;
      m_version = 1;
      m_version_sent = 0;  // the first Collect() sends snapshots
      m_account_urgent = true;
      m_account_known = false;
      m_account_sent_at = 0;
      m_connected = m_records.Connected();
      m_trade_allowed = m_records.TradeAllowed();
     }

   void OnTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
     {
      m_link.BeginCtl(m_w, PROTO_TRADE_TRANSACTION, m_link.NextEventId());
      m_records.TransactionFields(m_w, trans, request, result);
      m_w.End();
      m_link.Queue(m_w);
      m_version++;
      m_account_urgent = true;
     }

   // After transactions: snapshots when anything changed (or `snapshots`), then account and status.
   void Collect(const bool snapshots)
     {
      if(snapshots || m_version != m_version_sent)
        {
         m_version_sent = m_version;
         m_link.BeginCtl(m_w, PROTO_POSITIONS, m_link.NextEventId());
         m_w.KeyInt("version", m_version);
         m_w.Key("positions");
         m_w.BeginArray();
         for(int i = 0; i < PositionsTotal(); i++)
            if(PositionGetTicket(i) != 0)
               m_records.PositionRecord(m_w);
         m_w.End();
         m_w.End();
         m_link.Queue(m_w);
         m_link.BeginCtl(m_w, PROTO_ORDERS, m_link.NextEventId());
         m_w.KeyInt("version", m_version);
         m_w.Key("orders");
         m_w.BeginArray();
         for(int i = 0; i < OrdersTotal(); i++)
           {
            ulong t = OrderGetTicket(i);
            if(t != 0)
               m_records.OrderRecord(m_w, false, t);
           }
         m_w.End();
         m_w.End();
         m_link.Queue(m_w);
        }
      AccountIfChanged();
      StatusIfChanged();
     }

   void AccountIfChanged(void)
     {
      double now_values[5], moving[5];
      ReadNow(now_values);
      ReadMoving(moving);
      ulong now = GetTickCount64();
      if(m_account_known)
        {
         bool urgent = m_account_urgent;
         bool moved = false;
         for(int i = 0; i < 5; i++)
           {
            urgent = urgent || now_values[i] != m_sent_now[i];
            moved = moved || moving[i] != m_sent_moving[i];
           }
         if(!urgent && !(moved && now - m_account_sent_at >= EB_EQUITY_EVENT_INTERVAL_MS))
            return;
        }
      m_account_known = true;
      m_account_urgent = false;
      m_account_sent_at = now;
      ArrayCopy(m_sent_now, now_values);
      ArrayCopy(m_sent_moving, moving);
      m_link.BeginCtl(m_w, PROTO_ACCOUNT, m_link.NextEventId());
      m_w.Key("account");
      m_records.AccountRecord(m_w);
      m_w.End();
      m_link.Queue(m_w);
     }

   void StatusIfChanged(void)
     {
      bool connected = m_records.Connected();
      bool allowed = m_records.TradeAllowed();
      if(connected == m_connected && allowed == m_trade_allowed)
         return;
      m_connected = connected;
      m_trade_allowed = allowed;
      m_link.BeginCtl(m_w, PROTO_TERMINAL_STATUS, m_link.NextEventId());
      m_w.KeyBool("connected", connected);
      m_w.KeyBool("trade_allowed", allowed);
      m_w.End();
      m_link.Queue(m_w);
     }

   // A `log {level, text}` event, also printed to the Experts journal.
   void Log(const string level, const string text)
     {
      Print("ExecutorBridge ", level, ": ", text);
      m_link.BeginCtl(m_w, PROTO_LOG, m_link.NextEventId());
      m_w.KeyStr("level", level);
      m_w.KeyStr("text", text);
      m_w.End();
      m_link.Queue(m_w);
     }
  };

#endif // EXECUTOR_BRIDGE_TRADE_EVENTS_MQH
