//+------------------------------------------------------------------+
//| Clock.mqh: UTC milliseconds and the trade server's offset.       |
//|                                                                  |
//| MT5 stamps positions, deals, ticks and bars in the trade server's|
//| wall-clock time; the bridge carries ms UTC (MT5_BRIDGE.md) plus  |
//| `tz_offset_s`, so every time field crosses this file once.       |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_CLOCK_MQH
#define EXECUTOR_BRIDGE_CLOCK_MQH

#define EB_TZ_STEP_S   900     // real offsets are whole quarter hours
#define EB_RESYNC_MS   60000

class CBridgeClock
  {
private:
   long  m_base_utc_ms;
   ulong m_base_us;
   int   m_tz_offset_s;
   ulong m_next_sync_at;

   static int MeasureOffset(void)
     {
      long diff = (long)TimeTradeServer() - (long)TimeGMT();
      return (int)(MathRound((double)diff / EB_TZ_STEP_S) * EB_TZ_STEP_S);
     }

public:
                     CBridgeClock(void) { m_base_utc_ms = 0; m_base_us = 0; m_tz_offset_s = 0; m_next_sync_at = 0; }

   // Re-anchor the ms clock on TimeGMT() and re-measure the offset; true when the offset changed (DST).
   bool Sync(void)
     {
      m_base_utc_ms = (long)TimeGMT() * 1000;
      m_base_us = GetMicrosecondCount();
      m_next_sync_at = GetTickCount64() + EB_RESYNC_MS;
      int offset = MeasureOffset();
      bool changed = offset != m_tz_offset_s;
      m_tz_offset_s = offset;
      return changed;
     }

   bool SyncDue(void) const { return GetTickCount64() >= m_next_sync_at; }

   int  TzOffsetS(void) const { return m_tz_offset_s; }

   // Sender clock, ms UTC (TimeGMT() has whole seconds; the microsecond counter fills in).
   long NowMs(void) const { return m_base_utc_ms + (long)((GetMicrosecondCount() - m_base_us) / 1000); }

   // The trade server's clock, ms UTC.
   long ServerNowMs(void) const { return ((long)TimeTradeServer() - m_tz_offset_s) * 1000; }

   // Server wall-clock -> UTC.
   long UtcMsFromServerMs(const long server_ms) const { return server_ms - (long)m_tz_offset_s * 1000; }
   long UtcMsFromServer(const datetime t) const       { return t == 0 ? 0 : ((long)t - m_tz_offset_s) * 1000; }
   long UtcSecFromServer(const datetime t) const      { return t == 0 ? 0 : (long)t - m_tz_offset_s; }

   // UTC -> server wall-clock.
   long     ServerMsFromUtcMs(const long utc_ms) const { return utc_ms + (long)m_tz_offset_s * 1000; }
   datetime ServerFromUtcMs(const long utc_ms) const   { return (datetime)(utc_ms / 1000 + m_tz_offset_s); }
   datetime ServerFromUtcSec(const long utc_s) const   { return utc_s == 0 ? 0 : (datetime)(utc_s + m_tz_offset_s); }
  };

#endif // EXECUTOR_BRIDGE_CLOCK_MQH
