//+------------------------------------------------------------------+
//| MarketData.mqh: tick batches, closed bars and heartbeats on MD.  |
//|                                                                  |
//| Streamed symbols: the chart's, the Market Watch of the start,    |
//| and every symbol the executor subscribes to (a symbol selected   |
//| only for a query is not streamed: Watch.mqh). Each starts at the |
//| current moment, its last tick's time_msc (TimeCurrent() when it  |
//| has none yet): history before it is the executor's to ask for,   |
//| never published as live.                                        |
//| Every EB_PUBLISH_MS (50 ms, as sim_terminal.MD_PUBLISH_S) a round|
//| visits the symbols; one whose last tick (SymbolInfoTick, a read  |
//| of memory) has not changed costs nothing, the others publish, as |
//| columns on `tick.<SYMBOL>`, the ticks since the last one sent:   |
//| one CopyTicks of at most EB_TICKS_PER_COPY from that tick's      |
//| time_msc (ticks of that millisecond already sent are skipped by  |
//| count), through CopyGate.mqh, so a round stops when the slice's  |
//| copy time is spent and goes on in the next slice: the timer,     |
//| and the pong, never wait for market data. Subscribed (symbol,    |
//| timeframe) pairs publish each bar once it closes on              |
//| `bar.<SYMBOL>.<TF>`; `hb` goes out every second.                 |
//| A publish never waits; a lost one is a seq gap the executor      |
//| backfills with copy_ticks_from / copy_rates_from_pos.            |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_MARKET_DATA_MQH
#define EXECUTOR_BRIDGE_MARKET_DATA_MQH

#include "Protocol.mqh"
#include "Msgpack.mqh"
#include "Link.mqh"
#include "Records.mqh"
#include "Handlers.mqh"
#include "CopyGate.mqh"

#define EB_PUBLISH_MS        50
#define EB_MAX_STREAMED      200
#define EB_TICKS_PER_COPY    1000      // more wait for the next round
#define EB_SKIP_ALL          2147483647 // "every tick of that millisecond was sent": the start tick's

class CMarketData
  {
private:
   CBridgeLink     *m_link;
   CBridgeRecords  *m_records;
   CBridgeHandlers *m_handlers;
   CBridgeClock    *m_clock;
   CCopyGate       *m_gate;
   CMpWriter        m_w;
   string           m_symbols[];
   long             m_last_msc[];   // server ms of the last tick published; 0 = not started yet
   int              m_same_msc[];   // how many ticks at m_last_msc were published
   bool             m_copied[];     // one CopyTicks of the symbol succeeded (its tick base is open)
   bool             m_more[];       // the last copy was full: more ticks wait
   long             m_seen_msc[];   // SymbolInfoTick at the last visit: unchanged = nothing new
   double           m_seen_bid[];
   double           m_seen_ask[];
   double           m_seen_last[];
   string           m_bar_key[];    // "SYMBOL.TF" of subscriptions seen
   datetime         m_bar_open[];   // open time of the forming bar
   ulong            m_next_round_at;
   int              m_cursor;       // next symbol of the round; -1 = no round under way
   MqlTick          m_ticks[];

   int IndexOf(const string symbol) const
     {
      for(int i = 0; i < ArraySize(m_symbols); i++)
         if(m_symbols[i] == symbol)
            return i;
      return -1;
     }

   void Stream(const string symbol)
     {
      int n = ArraySize(m_symbols);
      if(symbol == "" || IndexOf(symbol) >= 0)
         return;
      if(n >= EB_MAX_STREAMED)
        {
         Print("ExecutorBridge: ", symbol, " not streamed: already ", EB_MAX_STREAMED, " symbols");
         return;
        }
      ArrayResize(m_symbols, n + 1);
      ArrayResize(m_last_msc, n + 1);
      ArrayResize(m_same_msc, n + 1);
      ArrayResize(m_copied, n + 1);
      ArrayResize(m_more, n + 1);
      ArrayResize(m_seen_msc, n + 1);
      ArrayResize(m_seen_bid, n + 1);
      ArrayResize(m_seen_ask, n + 1);
      ArrayResize(m_seen_last, n + 1);
      m_symbols[n] = symbol;
      m_last_msc[n] = 0;
      m_copied[n] = false;
      m_more[n] = false;
      m_seen_msc[n] = -1;
      Start(n);
     }

   // From now on: the symbol's last tick, else the server's clock; never 0 (a CopyTicks from 0
   // would send the last EB_TICKS_PER_COPY historical ticks as if they were live).
   void Start(const int s)
     {
      MqlTick tick;
      long from = 0;
      if(SymbolInfoTick(m_symbols[s], tick) && tick.time_msc > 0)
         from = tick.time_msc;
      else if(TimeCurrent() > 0)
         from = (long)TimeCurrent() * 1000;
      m_last_msc[s] = from;
      m_same_msc[s] = EB_SKIP_ALL;
     }

   // Nothing new since the last visit: the last tick reads the same (no copy needed).
   bool Unchanged(const int s)
     {
      MqlTick tick;
      if(!SymbolInfoTick(m_symbols[s], tick))
         return true;
      bool same = tick.time_msc == m_seen_msc[s] && tick.bid == m_seen_bid[s] && tick.ask == m_seen_ask[s]
                  && tick.last == m_seen_last[s];
      m_seen_msc[s] = tick.time_msc;
      m_seen_bid[s] = tick.bid;
      m_seen_ask[s] = tick.ask;
      m_seen_last[s] = tick.last;
      return same || tick.time_msc < m_last_msc[s];
     }

   void PublishTicks(const int s)
     {
      string symbol = m_symbols[s];
      if(m_last_msc[s] <= 0)
        {
         Start(s);  // no clock yet at the start (not connected): try again next round
         return;
        }
      if(m_gate.Resting(symbol) || (Unchanged(s) && !m_more[s]))
         return;
      // The first copy opens the symbol's tick base, which may have to synchronise: not before
      // the symbol itself is synchronised.
      if(!m_copied[s] && !SymbolIsSynchronized(symbol))
         return;
      int got = m_gate.Ticks(symbol, m_ticks, COPY_TICKS_ALL, (ulong)m_last_msc[s], EB_TICKS_PER_COPY);
      m_more[s] = got >= EB_TICKS_PER_COPY;
      if(got <= 0)
         return;  // nothing new, or the base still syncing (-1): next round
      m_copied[s] = true;
      int skip = 0;
      while(skip < got && skip < m_same_msc[s] && m_ticks[skip].time_msc == m_last_msc[s])
         skip++;
      int count = got - skip;
      if(count <= 0)
        {
         if(m_more[s])
           {
            // A full copy of one millisecond, all sent: never seen on a real feed, but it would
            // loop; step past it.
            m_last_msc[s]++;
            m_same_msc[s] = 0;
           }
         return;
        }
      long last = m_ticks[got - 1].time_msc;
      int same = 0;
      for(int i = got - 1; i >= 0 && m_ticks[i].time_msc == last; i--)
         same++;  // the copy started at m_last_msc: those already sent are counted in too
      m_last_msc[s] = last;
      m_same_msc[s] = same;
      string topic = PROTO_TICK;
      topic += "." + symbol;
      m_link.BeginMd(m_w, topic, PROTO_TICK);
      m_w.KeyStr("symbol", symbol);
      m_records.TickColumns(m_w, m_ticks, skip, count);
      m_w.End();
      m_link.Publish(topic, m_w);
     }

   // SERIES_LASTBAR_DATE is a property read: it never waits. The closed bar is copied only
   // when the series is synchronised and the slice has copy time.
   void PublishClosedBars(void)
     {
      for(int i = 0; i < m_handlers.SubscriptionCount(); i++)
        {
         string symbol = m_handlers.SubscriptionSymbol(i);
         string tf = m_handlers.SubscriptionTimeframe(i);
         ENUM_TIMEFRAMES period = m_handlers.SubscriptionPeriod(i);
         string key = symbol + "." + tf;
         int k = -1;
         for(int j = 0; j < ArraySize(m_bar_key); j++)
            if(m_bar_key[j] == key)
               k = j;
         if(m_gate.Resting(symbol) || !(bool)SeriesInfoInteger(symbol, period, SERIES_SYNCHRONIZED))
            continue;  // history not ready yet
         datetime forming = (datetime)SeriesInfoInteger(symbol, period, SERIES_LASTBAR_DATE);
         if(forming == 0)
            continue;
         if(k < 0)
           {
            k = ArraySize(m_bar_key);
            ArrayResize(m_bar_key, k + 1);
            ArrayResize(m_bar_open, k + 1);
            m_bar_key[k] = key;
            m_bar_open[k] = forming;
            continue;
           }
         if(forming == m_bar_open[k] || !m_gate.HasTime())
            continue;  // no new bar, or no copy time left: the next round looks again
         MqlRates bar[];
         if(m_gate.Rates(symbol, period, 1, 1, bar) != 1)
            continue;
         m_bar_open[k] = forming;
         string topic = PROTO_BAR;
         topic += "." + key;
         m_link.BeginMd(m_w, topic, PROTO_BAR);
         m_w.KeyStr("symbol", symbol);
         m_w.KeyStr("timeframe", tf);
         m_w.KeyBool("closed", true);
         m_records.BarFields(m_w, bar[0]);
         m_w.End();
         m_link.Publish(topic, m_w);
        }
     }

public:
   void Init(CBridgeLink *link, CBridgeRecords *records, CBridgeHandlers *handlers, CBridgeClock *clock, CCopyGate *gate)
     {
      m_link = link;
      m_records = records;
      m_handlers = handlers;
      m_clock = clock;
      m_gate = gate;
      ArrayResize(m_symbols, 0);
      ArrayResize(m_last_msc, 0);
      ArrayResize(m_same_msc, 0);
      ArrayResize(m_copied, 0);
      ArrayResize(m_more, 0);
      ArrayResize(m_seen_msc, 0);
      ArrayResize(m_seen_bid, 0);
      ArrayResize(m_seen_ask, 0);
      ArrayResize(m_seen_last, 0);
      ArrayResize(m_bar_key, 0);
      ArrayResize(m_bar_open, 0);
      m_next_round_at = 0;
      m_cursor = -1;
      // The start's Market Watch and the chart's symbol; no copy here (OnInit must not wait).
      Stream(_Symbol);
      for(int i = 0; i < SymbolsTotal(true); i++)
         Stream(SymbolName(i, true));
     }

   // After a subscribe: its symbols stream too.
   void AddSubscribed(void)
     {
      for(int i = 0; i < m_handlers.SubscriptionCount(); i++)
         Stream(m_handlers.SubscriptionSymbol(i));
     }

   int  StreamedCount(void) const { return ArraySize(m_symbols); }
   string Streamed(const int i) const { return m_symbols[i]; }

   // From OnTimer (and OnTick): a round every EB_PUBLISH_MS, continued across slices while the
   // slice's copy time runs out; the heartbeat whatever the round does.
   void Poll(void)
     {
      ulong now = GetTickCount64();
      if(m_cursor < 0 && now >= m_next_round_at)
        {
         m_next_round_at = now + EB_PUBLISH_MS;
         m_cursor = 0;
        }
      while(m_cursor >= 0 && m_cursor < ArraySize(m_symbols) && m_gate.HasTime())
        {
         PublishTicks(m_cursor);
         m_cursor++;
        }
      if(m_cursor >= ArraySize(m_symbols))
        {
         PublishClosedBars();
         m_cursor = -1;
        }
      if(m_link.HeartbeatDue())
         Heartbeat();
     }

   // hb: the server's time, its offset now and since when (bridge/protocol.py TZ_SINCE).
   void Heartbeat(void)
     {
      m_link.BeginMd(m_w, PROTO_HB, PROTO_HB);
      m_w.KeyInt("server_time", m_clock.ServerNowMs());
      m_w.KeyInt("tz_offset_s", m_clock.TzOffsetS());
      m_w.KeyInt(PROTO_TZ_SINCE, m_clock.TzSinceMs());
      m_w.End();
      m_link.Publish(PROTO_HB, m_w);
     }

   // At once, before any tick: the offset changed (Session.mqh WatchOffset, once open).
   void HeartbeatNow(void) { Heartbeat(); }
  };

#endif // EXECUTOR_BRIDGE_MARKET_DATA_MQH
