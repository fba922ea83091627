//+------------------------------------------------------------------+
//| MarketData.mqh: tick batches, closed bars and heartbeats on MD.  |
//|                                                                  |
//| Every EB_PUBLISH_MS (50 ms, as sim_terminal.MD_PUBLISH_S) each   |
//| streamed symbol (Market Watch plus subscriptions) publishes, as  |
//| columns on `tick.<SYMBOL>`, all ticks since the last one it      |
//| published, read with CopyTicks from that tick's time_msc (ticks  |
//| sharing that millisecond and already sent are skipped by count). |
//| Subscribed (symbol, timeframe) pairs publish each bar once it    |
//| closes on `bar.<SYMBOL>.<TF>`; `hb` goes out every second.       |
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

#define EB_PUBLISH_MS        50
#define EB_MAX_STREAMED      200
#define EB_TICKS_PER_BATCH   5000
#define EB_SYMBOLS_REFRESH_MS 60000

class CMarketData
  {
private:
   CBridgeLink     *m_link;
   CBridgeRecords  *m_records;
   CBridgeHandlers *m_handlers;
   CBridgeClock    *m_clock;
   CMpWriter        m_w;
   string           m_symbols[];
   long             m_last_msc[];   // server ms of the last tick published
   int              m_same_msc[];   // how many ticks at m_last_msc were published
   string           m_bar_key[];    // "SYMBOL.TF" of subscriptions seen
   datetime         m_bar_open[];   // open time of the forming bar
   ulong            m_next_publish_at;
   ulong            m_next_refresh_at;
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
      if(IndexOf(symbol) >= 0 || n >= EB_MAX_STREAMED)
         return;
      ArrayResize(m_symbols, n + 1);
      ArrayResize(m_last_msc, n + 1);
      ArrayResize(m_same_msc, n + 1);
      m_symbols[n] = symbol;
      // Start after the current tick: the executor backfills what came before.
      MqlTick tick;
      m_last_msc[n] = SymbolInfoTick(symbol, tick) ? tick.time_msc : 0;
      m_same_msc[n] = 0;
      if(m_last_msc[n] > 0)
        {
         int got = CopyTicks(symbol, m_ticks, COPY_TICKS_ALL, (ulong)m_last_msc[n], 100);
         for(int i = 0; i < got; i++)
            if(m_ticks[i].time_msc == m_last_msc[n])
               m_same_msc[n]++;
        }
     }

   void PublishTicks(const int s)
     {
      string symbol = m_symbols[s];
      int got = CopyTicks(symbol, m_ticks, COPY_TICKS_ALL, (ulong)m_last_msc[s], EB_TICKS_PER_BATCH);
      if(got <= 0)
         return;  // nothing new, or history still syncing (-1): next round
      int skip = 0;
      while(skip < got && skip < m_same_msc[s] && m_ticks[skip].time_msc == m_last_msc[s])
         skip++;
      int count = got - skip;
      if(count <= 0)
         return;
      long last = m_ticks[got - 1].time_msc;
      int same = 0;
      for(int i = got - 1; i >= 0 && m_ticks[i].time_msc == last; i--)
         same++;
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
         datetime forming = iTime(symbol, period, 0);
         if(forming == 0)
            continue;  // history not ready yet
         if(k < 0)
           {
            k = ArraySize(m_bar_key);
            ArrayResize(m_bar_key, k + 1);
            ArrayResize(m_bar_open, k + 1);
            m_bar_key[k] = key;
            m_bar_open[k] = forming;
            continue;
           }
         if(forming == m_bar_open[k])
            continue;
         m_bar_open[k] = forming;
         MqlRates bar[];
         if(CopyRates(symbol, period, 1, 1, bar) != 1)
            continue;
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
   void Init(CBridgeLink *link, CBridgeRecords *records, CBridgeHandlers *handlers, CBridgeClock *clock)
     {
      m_link = link;
      m_records = records;
      m_handlers = handlers;
      m_clock = clock;
      ArrayResize(m_symbols, 0);
      ArrayResize(m_last_msc, 0);
      ArrayResize(m_same_msc, 0);
      ArrayResize(m_bar_key, 0);
      ArrayResize(m_bar_open, 0);
      m_next_publish_at = 0;
      m_next_refresh_at = 0;
      RefreshSymbols();
     }

   // Market Watch, the chart's symbol and every subscribed symbol.
   void RefreshSymbols(void)
     {
      Stream(_Symbol);
      for(int i = 0; i < SymbolsTotal(true); i++)
         Stream(SymbolName(i, true));
      for(int i = 0; i < m_handlers.SubscriptionCount(); i++)
         Stream(m_handlers.SubscriptionSymbol(i));
      m_next_refresh_at = GetTickCount64() + EB_SYMBOLS_REFRESH_MS;
     }

   int  StreamedCount(void) const { return ArraySize(m_symbols); }
   string Streamed(const int i) const { return m_symbols[i]; }

   // Called from OnTick (the chart's symbol has news) and OnTimer: publishes when due.
   void Poll(void)
     {
      ulong now = GetTickCount64();
      if(now >= m_next_refresh_at)
         RefreshSymbols();
      if(now >= m_next_publish_at)
        {
         m_next_publish_at = now + EB_PUBLISH_MS;
         for(int s = 0; s < ArraySize(m_symbols); s++)
            PublishTicks(s);
         PublishClosedBars();
        }
      if(m_link.HeartbeatDue())
        {
         m_link.BeginMd(m_w, PROTO_HB, PROTO_HB);
         m_w.KeyInt("server_time", m_clock.ServerNowMs());
         m_w.End();
         m_link.Publish(PROTO_HB, m_w);
        }
     }
  };

#endif // EXECUTOR_BRIDGE_MARKET_DATA_MQH
