//+------------------------------------------------------------------+
//| TzTable.mqh: the trade server's offsets from UTC, learnt while   |
//| the EA runs, and the conversions that use the offset valid then. |
//|                                                                  |
//| Most MT5 servers keep New York close time: UTC+2 in the US       |
//| winter, UTC+3 in the summer. MQL5 knows only the offset now      |
//| (TimeTradeServer() - TimeGMT()), so the EA samples it every      |
//| timer slice and keeps a small table of (utc_from_ms, offset_s)   |
//| entries, one per switch it lived through (bridge/server_tz.py is |
//| the same table in Python; bridge/protocol.py TZ_HISTORY the wire |
//| form). Rules, the executor's too:                                |
//|  * an offset holds from its entry until the next one;            |
//|  * times before the first entry (the EA's start) use the first   |
//|    offset: the LIMITATION. History older than a switch the EA    |
//|    did not live through is sent an hour off in UTC; the executor |
//|    converts it back with this very table, so its bars still open |
//|    at server midnight, but the UTC instants of those old times   |
//|    are not the true ones;                                        |
//|  * a switch is dated at the latest whole hour (else quarter hour)|
//|    between the last sample with the old offset and the first     |
//|    with the new one, where real switches fall;                   |
//|  * server time -> UTC: a bar's open is the first instant the     |
//|    server clock reads it (UtcMsFirst, as ServerTz.to_utc); any   |
//|    other time (ticks, deals, orders) the reading in the newest   |
//|    stretch of the table (UtcMsLatest), so live ticks of an hour  |
//|    the clock repeats keep increasing. Both agree everywhere but  |
//|    in that hour.                                                 |
//| Pure arithmetic, no MT5 call: compiled by g++ in tests/.         |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_TZ_TABLE_MQH
#define EXECUTOR_BRIDGE_TZ_TABLE_MQH

#include "Protocol.mqh"

#define EB_TZ_STEP_S   900                     // real offsets are whole quarter hours
#define EB_TZ_MAX      PROTO_TZ_HISTORY_MAX    // entries kept (and sent); the oldest gives way
#define EB_HOUR_MS     3600000
#define EB_QUARTER_MS  900000

class CTzTable
  {
private:
   long m_from[EB_TZ_MAX];    // ms UTC from which the offset holds
   int  m_offset[EB_TZ_MAX];  // seconds east of UTC
   int  m_count;
   long m_last_sample_ms;     // the last sample (ms UTC); the next switch lies after it

   // The newest entry in force at utc_ms; 0 for times before the first.
   int Index(const long utc_ms) const
     {
      for(int i = m_count - 1; i > 0; i--)
         if(m_from[i] <= utc_ms)
            return i;
      return 0;
     }

   void Append(const long from_ms, const int offset_s)
     {
      if(m_count == EB_TZ_MAX)
        {
         for(int i = 1; i < m_count; i++)
           {
            m_from[i - 1] = m_from[i];
            m_offset[i - 1] = m_offset[i];
           }
         m_count--;
        }
      m_from[m_count] = from_ms;
      m_offset[m_count] = offset_s;
      m_count++;
     }

public:
                     CTzTable(void) { Reset(); }

   void Reset(void) { m_count = 0; m_last_sample_ms = 0; }

   // TimeTradeServer() - TimeGMT() rounded to the quarter hour: the two calls may straddle a second.
   static int Rounded(const long raw_diff_s)
     {
      long half = EB_TZ_STEP_S / 2;
      long steps = raw_diff_s >= 0 ? (raw_diff_s + half) / EB_TZ_STEP_S : -((half - raw_diff_s) / EB_TZ_STEP_S);
      return (int)(steps * EB_TZ_STEP_S);
     }

   // When a switch seen at at_ms, after a sample at after_ms, happened: the latest whole hour
   // in (after_ms, at_ms], else the latest quarter hour, else at_ms itself.
   static long SwitchTime(const long after_ms, const long at_ms)
     {
      long hour = at_ms - at_ms % EB_HOUR_MS;
      if(hour > after_ms)
         return hour;
      long quarter = at_ms - at_ms % EB_QUARTER_MS;
      return quarter > after_ms ? quarter : at_ms;
     }

   // One sample: at utc_ms the server's clock read raw_diff_s seconds ahead of UTC. True when
   // the offset changed (a new entry: the EA announces it); the first sample starts the table.
   bool Observe(const long utc_ms, const long raw_diff_s)
     {
      int offset = Rounded(raw_diff_s);
      bool changed = false;
      if(m_count == 0)
         Append(utc_ms, offset);
      else
         if(offset != m_offset[m_count - 1] && utc_ms > m_last_sample_ms)
           {
            long from = SwitchTime(m_last_sample_ms, utc_ms);
            Append(from > m_from[m_count - 1] ? from : utc_ms, offset);
            changed = true;
           }
      if(utc_ms > m_last_sample_ms)
         m_last_sample_ms = utc_ms;
      return changed;
     }

   int  Count(void) const           { return m_count; }
   long From(const int i) const     { return m_from[i]; }
   int  Offset(const int i) const   { return m_offset[i]; }
   int  Current(void) const         { return m_count > 0 ? m_offset[m_count - 1] : 0; }
   int  OffsetAt(const long utc_ms) const { return m_count > 0 ? m_offset[Index(utc_ms)] : 0; }
   // When the offset in force at utc_ms took effect (0 before the first sample).
   long Since(const long utc_ms) const { return m_count > 0 ? m_from[Index(utc_ms)] : 0; }

   // UTC -> server wall clock, ms.
   long ServerMs(const long utc_ms) const { return utc_ms + (long)OffsetAt(utc_ms) * 1000; }

   // The first instant the server clock reads server_ms or later (a bar's open).
   long UtcMsFirst(const long server_ms) const
     {
      if(m_count == 0)
         return server_ms;
      int i = 0;
      while(i < m_count - 1 && m_from[i + 1] + (long)m_offset[i] * 1000 <= server_ms)
         i++;  // this stretch ends before its clock reads server_ms
      long utc = server_ms - (long)m_offset[i] * 1000;
      return i > 0 && utc < m_from[i] ? m_from[i] : utc;
     }

   // The reading of server_ms in the newest stretch that has one (ticks, deals, orders); a
   // time the clock skipped maps to the switch.
   long UtcMsLatest(const long server_ms) const
     {
      if(m_count == 0)
         return server_ms;
      for(int i = m_count - 1; i > 0; i--)
        {
         long utc = server_ms - (long)m_offset[i] * 1000;
         if(utc >= m_from[i])
            return i == m_count - 1 || utc < m_from[i + 1] ? utc : m_from[i + 1];
        }
      long first = server_ms - (long)m_offset[0] * 1000;
      return m_count > 1 && first >= m_from[1] ? m_from[1] : first;
     }
  };

#endif // EXECUTOR_BRIDGE_TZ_TABLE_MQH
