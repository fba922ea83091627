//+------------------------------------------------------------------+
//| CopyGate.mqh: every CopyTicks/CopyRates the EA makes goes here,  |
//| so that none of them holds the timer (and with it the pong).     |
//|                                                                  |
//| Why: in an Expert Advisor CopyTicks "can wait for the result for |
//| 45 seconds" while the symbol's tick base synchronises, and       |
//| CopyRates waits while a series is built or downloaded (MQL5      |
//| reference: an indicator gets -1 at once, an EA waits). A timer   |
//| that waits 3 s answers no ping and the executor marks the link   |
//| down. So a copy is made only when it should not wait:            |
//|  * the symbol is synchronised (SymbolIsSynchronized) and, for    |
//|    bars, so is its series (SERIES_SYNCHRONIZED, a property read);|
//|  * this timer slice has copy time left (EB_COPY_BUDGET_US);      |
//|  * no earlier copy of the symbol was slow: one slower than       |
//|    EB_SLOW_COPY_US rests the symbol for EB_REST_MS.              |
//| Otherwise Ready() says why, the request is answered NOT_READY    |
//| ("not ready, retry", bridge/protocol.py) and the executor asks   |
//| again with backoff. Synchronisation must still start somewhere:  |
//| a refused symbol is "kicked" with one one-bar CopyTime, at most  |
//| once per EB_KICK_EVERY_MS per symbol and one per slice, after    |
//| the slice's replies have left (Session.mqh), timed like the rest.|
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_COPY_GATE_MQH
#define EXECUTOR_BRIDGE_COPY_GATE_MQH

#define EB_COPY_BUDGET_US  30000    // copy time per timer slice (the timer runs every 10 ms)
#define EB_SLOW_COPY_US    300000   // one copy slower than this: its symbol rests
#define EB_REST_MS         30000
#define EB_KICK_EVERY_MS   5000
#define EB_GATE_MAX        256

class CCopyGate
  {
private:
   ulong           m_spent_us;      // copy time spent in this slice
   string          m_reason;        // why the last Ready() said no
   string          m_rest_symbol[];
   ulong           m_rest_until[];
   string          m_kick_symbol[];
   ENUM_TIMEFRAMES m_kick_period[];
   ulong           m_kick_after[];  // 0 = wanted now; else not before this tick count
   bool            m_kick_wanted[];

   int Find(const string &names[], const string symbol) const
     {
      for(int i = 0; i < ArraySize(names); i++)
         if(names[i] == symbol)
            return i;
      return -1;
     }

   void Rest(const string symbol, const string what, const ulong took_us)
     {
      int i = Find(m_rest_symbol, symbol);
      if(i < 0)
        {
         i = ArraySize(m_rest_symbol);
         if(i >= EB_GATE_MAX)
            return;
         ArrayResize(m_rest_symbol, i + 1);
         ArrayResize(m_rest_until, i + 1);
         m_rest_symbol[i] = symbol;
        }
      m_rest_until[i] = GetTickCount64() + EB_REST_MS;
      Print("ExecutorBridge: ", what, " of ", symbol, " took ", took_us / 1000, " ms (its history is loading?); ",
            symbol, " is left alone for ", EB_REST_MS / 1000, " s, requests for it are answered \"not ready, retry\"");
     }

   void WantKick(const string symbol, const ENUM_TIMEFRAMES period)
     {
      int i = Find(m_kick_symbol, symbol);
      if(i < 0)
        {
         i = ArraySize(m_kick_symbol);
         if(i >= EB_GATE_MAX)
            return;
         ArrayResize(m_kick_symbol, i + 1);
         ArrayResize(m_kick_period, i + 1);
         ArrayResize(m_kick_after, i + 1);
         ArrayResize(m_kick_wanted, i + 1);
         m_kick_symbol[i] = symbol;
         m_kick_after[i] = 0;
        }
      m_kick_period[i] = period;
      m_kick_wanted[i] = true;
     }

   void Spent(const ulong started_us, const string symbol, const string what)
     {
      ulong took = GetMicrosecondCount() - started_us;
      m_spent_us += took;
      if(took > EB_SLOW_COPY_US)
         Rest(symbol, what, took);
     }

public:
                     CCopyGate(void) { m_spent_us = 0; m_reason = ""; }

   // At the start of every OnTimer/OnTick: a fresh copy budget.
   void StartSlice(void) { m_spent_us = 0; }

   bool   HasTime(void) const { return m_spent_us < EB_COPY_BUDGET_US; }
   string Reason(void) const  { return m_reason; }

   bool Resting(const string symbol) const
     {
      int i = Find(m_rest_symbol, symbol);
      return i >= 0 && GetTickCount64() < m_rest_until[i];
     }

   // Whether `symbol` (and its `period` series when `bars`) can be copied now without waiting;
   // false with Reason() otherwise, and a kick is planned for what is not synchronised.
   bool Ready(const string symbol, const bool bars, const ENUM_TIMEFRAMES period)
     {
      m_reason = "";
      if(Resting(symbol))
         m_reason = "a copy of " + symbol + " was slow; it rests a few seconds";
      else if(!HasTime())
         m_reason = "the EA's copy time for this moment is spent";
      else if(!SymbolIsSynchronized(symbol))
        {
         m_reason = symbol + " is still synchronising with the trade server";
         WantKick(symbol, bars ? period : PERIOD_M1);
        }
      else if(bars && !(bool)SeriesInfoInteger(symbol, period, SERIES_SYNCHRONIZED))
        {
         m_reason = symbol + " bars of this timeframe are still being built or downloaded";
         WantKick(symbol, period);
        }
      if(m_reason == "")
         return true;
      m_reason += "; retry";
      return false;
     }

   // The timed copies. Callers check Ready() first (or accept that the stream's copy is small).
   int Ticks(const string symbol, MqlTick &ticks[], const uint flags, const ulong from_msc, const uint count)
     {
      ulong t0 = GetMicrosecondCount();
      int got = CopyTicks(symbol, ticks, flags, from_msc, count);
      Spent(t0, symbol, "CopyTicks");
      return got;
     }

   int Rates(const string symbol, const ENUM_TIMEFRAMES period, const int start_pos, const int count, MqlRates &rates[])
     {
      ulong t0 = GetMicrosecondCount();
      int got = CopyRates(symbol, period, start_pos, count, rates);
      Spent(t0, symbol, "CopyRates");
      return got;
     }

   // One planned kick, if this slice has time left: a one-bar CopyTime starts the download or
   // the build that SERIES_SYNCHRONIZED waits for ("copying of next part forces data loading",
   // MQL5's "Organizing Data Access" example); reading the flags is not documented to start it.
   // The kick may itself wait: it is timed, and a slow one rests the symbol like any copy.
   void KickOne(void)
     {
      if(!HasTime())
         return;
      ulong now = GetTickCount64();
      for(int i = 0; i < ArraySize(m_kick_symbol); i++)
        {
         if(!m_kick_wanted[i] || now < m_kick_after[i] || Resting(m_kick_symbol[i]))
            continue;
         m_kick_wanted[i] = false;
         m_kick_after[i] = now + EB_KICK_EVERY_MS;
         datetime first[];
         ulong t0 = GetMicrosecondCount();
         CopyTime(m_kick_symbol[i], m_kick_period[i], 0, 1, first);
         Spent(t0, m_kick_symbol[i], "starting the history download (CopyTime)");
         return;
        }
     }
  };

#endif // EXECUTOR_BRIDGE_COPY_GATE_MQH
