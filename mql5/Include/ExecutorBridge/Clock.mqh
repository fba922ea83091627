//+------------------------------------------------------------------+
//| Clock.mqh: UTC milliseconds and the trade server's offsets.      |
//|                                                                  |
//| MT5 stamps positions, deals, ticks and bars in the trade server's|
//| wall-clock time; the bridge carries ms UTC (MT5_BRIDGE.md) plus  |
//| `tz_offset_s` and the table of offsets this EA has seen          |
//| (`tz_history`), so every time field crosses this file once, and  |
//| is converted with the offset valid at that time (TzTable.mqh:    |
//| the rules, and the limitation for times before the EA started).  |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_CLOCK_MQH
#define EXECUTOR_BRIDGE_CLOCK_MQH

#include "TzTable.mqh"

#define EB_RESYNC_MS   60000

class CBridgeClock
  {
private:
   long     m_base_utc_ms;
   ulong    m_base_us;
   ulong    m_next_sync_at;
   CTzTable m_tz;

public:
                     CBridgeClock(void) { m_base_utc_ms = 0; m_base_us = 0; m_next_sync_at = 0; }

   // Re-anchor the ms clock on TimeGMT(); the first time, take the first sample of the
   // offset too (later samples are Sample()'s, whose caller announces a change).
   void Sync(void)
     {
      m_base_utc_ms = (long)TimeGMT() * 1000;
      m_base_us = GetMicrosecondCount();
      m_next_sync_at = GetTickCount64() + EB_RESYNC_MS;
      if(m_tz.Count() == 0)
         Sample();
     }

   bool SyncDue(void) const { return GetTickCount64() >= m_next_sync_at; }

   // Sample TimeTradeServer() - TimeGMT() (cheap: every timer slice and tick); true when the
   // offset changed (a DST switch): the caller announces it, before any tick that follows.
   bool Sample(void)
     {
      long gmt = (long)TimeGMT();
      return m_tz.Observe(NowMs(), (long)TimeTradeServer() - gmt);
     }

   int  TzOffsetS(void) const { return m_tz.Current(); }
   // When the offset now took effect (ms UTC), as far as this EA knows: hb's tz_since.
   long TzSinceMs(void) const { return m_tz.Since(NowMs()); }
   // The table, for hello and terminal_info (tz_history).
   int  TzCount(void) const        { return m_tz.Count(); }
   long TzFrom(const int i) const  { return m_tz.From(i); }
   int  TzOffset(const int i) const { return m_tz.Offset(i); }

   // Sender clock, ms UTC (TimeGMT() has whole seconds; the microsecond counter fills in).
   long NowMs(void) const { return m_base_utc_ms + (long)((GetMicrosecondCount() - m_base_us) / 1000); }

   // The trade server's clock, ms UTC.
   long ServerNowMs(void) const { return ((long)TimeTradeServer() - m_tz.Current()) * 1000; }

   // Server wall-clock -> UTC: a bar's open (the first instant the server clock reads it) ...
   long BarUtcMs(const datetime t) const { return m_tz.UtcMsFirst((long)t * 1000); }
   // ... and every other time (the reading in the newest stretch: live ticks keep increasing).
   long UtcMsFromServerMs(const long server_ms) const { return m_tz.UtcMsLatest(server_ms); }
   long UtcMsFromServer(const datetime t) const       { return t == 0 ? 0 : m_tz.UtcMsLatest((long)t * 1000); }
   long UtcSecFromServer(const datetime t) const      { return t == 0 ? 0 : m_tz.UtcMsLatest((long)t * 1000) / 1000; }

   // UTC -> server wall-clock, with the offset valid then.
   long     ServerMsFromUtcMs(const long utc_ms) const { return m_tz.ServerMs(utc_ms); }
   datetime ServerFromUtcMs(const long utc_ms) const   { return (datetime)(m_tz.ServerMs(utc_ms) / 1000); }
   datetime ServerFromUtcSec(const long utc_s) const   { return utc_s == 0 ? 0 : (datetime)(m_tz.ServerMs(utc_s * 1000) / 1000); }
  };

#endif // EXECUTOR_BRIDGE_CLOCK_MQH
