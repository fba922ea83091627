//+------------------------------------------------------------------+
//| Watch.mqh: the Market Watch symbols the EA selected itself.      |
//|                                                                  |
//| A query about a symbol the user does not watch (symbol_info,     |
//| copy_ticks_from, ...) needs it in Market Watch: MQL5 keeps quotes|
//| and history only for selected symbols. The EA selects it, uses   |
//| it, and deselects it once no query used it for EB_WATCH_IDLE_MS  |
//| (not at once: a "not ready, retry" answer means its history is   |
//| still loading, and the retry should find it loaded), and again   |
//| at stop. It never deselects a symbol the user had selected, nor  |
//| one the executor subscribed to (Keep). Market data streams only  |
//| the start's Market Watch and subscriptions (MarketData.mqh), so  |
//| a queried symbol is never streamed for good.                     |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_WATCH_MQH
#define EXECUTOR_BRIDGE_WATCH_MQH

#define EB_WATCH_IDLE_MS   120000
#define EB_WATCH_MAX       512

class CSymbolWatch
  {
private:
   string m_added[];     // selected by the EA for a query
   ulong  m_used_at[];

   int IndexOf(const string symbol) const
     {
      for(int i = 0; i < ArraySize(m_added); i++)
         if(m_added[i] == symbol)
            return i;
      return -1;
     }

   void RemoveAt(const int i)
     {
      int n = ArraySize(m_added);
      for(int k = i + 1; k < n; k++)
        {
         m_added[k - 1] = m_added[k];
         m_used_at[k - 1] = m_used_at[k];
        }
      ArrayResize(m_added, n - 1);
      ArrayResize(m_used_at, n - 1);
     }

public:
   // `symbol` is about to be queried: selected if it is not, and remembered as ours.
   void Use(const string symbol)
     {
      int i = IndexOf(symbol);
      if(i >= 0)
        {
         m_used_at[i] = GetTickCount64();
         return;
        }
      if((bool)SymbolInfoInteger(symbol, SYMBOL_SELECT))
         return;  // the user's, or a subscription's: not ours to remove
      if(!SymbolSelect(symbol, true) || ArraySize(m_added) >= EB_WATCH_MAX)
         return;
      int n = ArraySize(m_added);
      ArrayResize(m_added, n + 1);
      ArrayResize(m_used_at, n + 1);
      m_added[n] = symbol;
      m_used_at[n] = GetTickCount64();
     }

   // The executor subscribed to `symbol`: it stays in Market Watch.
   void Keep(const string symbol)
     {
      int i = IndexOf(symbol);
      if(i >= 0)
         RemoveAt(i);
     }

   // Deselect what the EA added and no query used for EB_WATCH_IDLE_MS (`all`: everything, at
   // stop). SymbolSelect(false) fails while a chart, a position or an order holds the symbol:
   // it is then left selected and forgotten (the user has made it theirs).
   void Release(const bool all)
     {
      ulong now = GetTickCount64();
      for(int i = ArraySize(m_added) - 1; i >= 0; i--)
        {
         if(!all && now - m_used_at[i] < EB_WATCH_IDLE_MS)
            continue;
         SymbolSelect(m_added[i], false);
         RemoveAt(i);
        }
     }
  };

#endif // EXECUTOR_BRIDGE_WATCH_MQH
