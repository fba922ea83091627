//+------------------------------------------------------------------+
//| Handlers.mqh: each request of MT5_BRIDGE.md mapped to MQL5 calls.|
//|                                                                  |
//| Mirrors bridge/sim/requests.py: arguments checked the same way   |
//| (nil counts as absent; a wrong type is -2 `Invalid "<name>"      |
//| argument: expected int, got str`; an unknown symbol is -4), the  |
//| reply `data` shaped like the MetaTrader5 package's result. A     |
//| handler writes `data` into the reply only after every check has  |
//| passed, so a refusal never leaves half a reply.                  |
//| Session requests (ping, hello_ack), idempotency and the dead-man |
//| live in Session.mqh, as in the simulator's terminal shell.       |
//|                                                                  |
//| History requests (copy_rates_from_pos, copy_ticks_from) copy     |
//| through CopyGate.mqh: one that would wait is answered NOT_READY  |
//| ("not ready, retry"), never waited for; a reply holds at most    |
//| PROTO_MAX_*_PER_REPLY rows (one frame). A queried symbol is      |
//| selected through Watch.mqh, which deselects it when idle.        |
//|                                                                  |
//| EXTENSIONS, not in MT5_BRIDGE.md (bridge/protocol.py lists them):|
//| `calendar {date_from, date_to, country?, currency?}` reads       |
//| CalendarValueHistory for news blackouts; `symbol_sessions        |
//| {symbols}` reads SymbolInfoSessionTrade for trading hours; the   |
//| NOT_READY error. The simulator answers all three                 |
//| (bridge/sim/requests.py).                                        |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_HANDLERS_MQH
#define EXECUTOR_BRIDGE_HANDLERS_MQH

#include "Protocol.mqh"
#include "Msgpack.mqh"
#include "Clock.mqh"
#include "Records.mqh"
#include "CopyGate.mqh"
#include "Watch.mqh"

#define EB_ARG_BAD    -1
#define EB_ARG_ABSENT  0
#define EB_ARG_OK      1
#define EB_MAX_SUBSCRIPTIONS 256
#define EB_COMMENT_MAX_LEN   31   // MT5 truncates longer comments

const string EB_TIMEFRAME_NAMES[] = {"M1", "M5", "M15", "M30", "H1", "H4", "D1"};
const ENUM_TIMEFRAMES EB_TIMEFRAMES[] = {PERIOD_M1, PERIOD_M5, PERIOD_M15, PERIOD_M30, PERIOD_H1, PERIOD_H4, PERIOD_D1};

class CBridgeHandlers
  {
private:
   CBridgeClock  *m_clock;
   CCopyGate     *m_gate;
   CSymbolWatch  *m_watch;
   CBridgeRecords m_records;
   int            m_code;    // the refusal of the last handler: last_error() code ...
   string         m_text;    // ... and its text
   string         m_sub_symbol[];
   int            m_sub_tf[];  // index into EB_TIMEFRAMES

   bool Refuse(const int code, const string text) { m_code = code; m_text = text; return false; }
   bool NotReady(const string text)                { return Refuse(PROTO_NOT_READY, text); }

   static string PyType(const int type)
     {
      switch(type)
        {
         case MP_NIL: return "NoneType";
         case MP_BOOL: return "bool";
         case MP_INT: case MP_UINT: return "int";
         case MP_DOUBLE: return "float";
         case MP_STR: return "str";
         case MP_ARRAY_T: return "list";
         case MP_MAP: return "dict";
        }
      return "unknown";
     }

   int Wrong(const CMpReader &doc, const int node, const string name, const string expected)
     {
      Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"" + name + "\" argument: expected " + expected + ", got " + PyType(doc.Type(node)));
      return EB_ARG_BAD;
     }

   int Missing(const string name)
     {
      Refuse(MT5_RES_E_INVALID_PARAMS, "missing \"" + name + "\" argument");
      return EB_ARG_BAD;
     }

   // --- arguments (sim_requests.arg): EB_ARG_OK, EB_ARG_ABSENT (absent or nil), EB_ARG_BAD ---
   int ArgStr(const CMpReader &doc, const int msg, const string name, string &out, const bool required)
     {
      int n = doc.Find(msg, name);
      if(n < 0 || doc.IsNil(n))
         return required ? Missing(name) : EB_ARG_ABSENT;
      if(!doc.IsStr(n))
         return Wrong(doc, n, name, "str");
      out = doc.Str(n);
      return EB_ARG_OK;
     }

   int ArgLong(const CMpReader &doc, const int msg, const string name, long &out, const bool required)
     {
      int n = doc.Find(msg, name);
      if(n < 0 || doc.IsNil(n))
         return required ? Missing(name) : EB_ARG_ABSENT;
      if(!doc.IsInt(n) || !doc.FitsLong(n))
         return Wrong(doc, n, name, "int");
      out = doc.Long(n);
      return EB_ARG_OK;
     }

   int ArgTicket(const CMpReader &doc, const int msg, const string name, ulong &out)
     {
      int n = doc.Find(msg, name);
      if(n < 0 || doc.IsNil(n))
         return EB_ARG_ABSENT;
      if(doc.Type(n) != MP_UINT)
         return Wrong(doc, n, name, "int");
      out = doc.ULong(n);
      return EB_ARG_OK;
     }

   int ArgDouble(const CMpReader &doc, const int msg, const string name, double &out, const bool required)
     {
      int n = doc.Find(msg, name);
      if(n < 0 || doc.IsNil(n))
         return required ? Missing(name) : EB_ARG_ABSENT;
      if(!doc.IsNumber(n))
         return Wrong(doc, n, name, "float");
      out = doc.Double(n);
      return EB_ARG_OK;
     }

   bool KnownSymbol(const CMpReader &doc, const int msg, string &symbol)
     {
      if(ArgStr(doc, msg, "symbol", symbol, true) != EB_ARG_OK)
         return false;
      bool custom = false;
      if(!SymbolExist(symbol, custom))
         return Refuse(MT5_RES_E_NOT_FOUND, "symbol '" + symbol + "' not found; use symbols_get to list them");
      m_watch.Use(symbol);  // quotes and history want it in Market Watch; Watch.mqh removes it when idle
      return true;
     }

   // 'H1' or 16385 (mt5.TIMEFRAME_H1) -> index into EB_TIMEFRAMES; -1 refused.
   int TimeframeIndex(const CMpReader &doc, const int node)
     {
      for(int i = 0; i < ArraySize(EB_TIMEFRAMES); i++)
         if((doc.IsStr(node) && doc.Str(node) == EB_TIMEFRAME_NAMES[i])
            || (doc.Type(node) == MP_UINT && doc.ULong(node) == (ulong)EB_TIMEFRAMES[i]))
            return i;
      Refuse(MT5_RES_E_INVALID_PARAMS, "unknown timeframe: use one of M1, M5, M15, M30, H1, H4, D1");
      return -1;
     }

   // MT5's group filter: comma-separated masks, `*` wildcards, `!` excludes (bridge.symbols.match_group).
   static bool Glob(const string text, const int ti, const string mask, const int mi)
     {
      int tn = StringLen(text), mn = StringLen(mask);
      if(mi == mn)
         return ti == tn;
      ushort m = StringGetCharacter(mask, mi);
      if(m == '*')
        {
         for(int k = ti; k <= tn; k++)
            if(Glob(text, k, mask, mi + 1))
               return true;
         return false;
        }
      if(ti == tn)
         return false;
      ushort c = StringGetCharacter(text, ti);
      return (m == '?' || m == c) && Glob(text, ti + 1, mask, mi + 1);
     }

   static bool MatchGroup(const string name, const string group)
     {
      if(group == "")
         return true;
      string masks[];
      int n = StringSplit(group, ',', masks);
      bool has_include = false, included = false;
      for(int i = 0; i < n; i++)
        {
         string mask = masks[i];
         StringTrimLeft(mask);
         StringTrimRight(mask);
         if(mask == "")
            continue;
         if(StringGetCharacter(mask, 0) == '!')
           {
            if(Glob(name, 0, StringSubstr(mask, 1), 0))
               return false;
            continue;
           }
         has_include = true;
         if(Glob(name, 0, mask, 0))
            included = true;
        }
      return !has_include || included;
     }

   // --- trade requests ---
   static bool IsRequestKey(const string key)
     {
      for(int i = 0; i < MT5_TRADE_REQUEST_KEYS_COUNT; i++)
         if(MT5_TRADE_REQUEST_KEYS[i] == key)
            return true;
      return false;
     }

   // The MetaTrader5 request dict -> MqlTradeRequest (sim_checks.normalize_request).
   bool TradeRequest(const CMpReader &doc, const int msg, MqlTradeRequest &r)
     {
      int req = doc.Find(msg, "request");
      if(!doc.IsMap(req))
         return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"request\" argument");
      for(int k = doc.First(req); k >= 0; k = doc.Next(doc.Next(k)))
         if(!IsRequestKey(doc.Str(k)))
            return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"" + doc.Str(k) + "\" argument");
      ZeroMemory(r);
      long action = 0, type = 0, type_time = 0, type_filling = 0, expiration = 0;
      if(!EnumKey(doc, req, "action", action) || !EnumKey(doc, req, "type", type)
         || !EnumKey(doc, req, "type_time", type_time) || !EnumKey(doc, req, "type_filling", type_filling)
         || !UnsignedKey(doc, req, "deviation", r.deviation) || !UnsignedKey(doc, req, "magic", r.magic)
         || !UnsignedKey(doc, req, "position", r.position) || !UnsignedKey(doc, req, "position_by", r.position_by)
         || !UnsignedKey(doc, req, "order", r.order))
         return false;
      ulong expiration_s = 0;
      if(!UnsignedKey(doc, req, "expiration", expiration_s))
         return false;
      expiration = (long)expiration_s;
      if(!PriceKey(doc, req, "volume", r.volume) || !PriceKey(doc, req, "price", r.price)
         || !PriceKey(doc, req, "stoplimit", r.stoplimit) || !PriceKey(doc, req, "sl", r.sl)
         || !PriceKey(doc, req, "tp", r.tp))
         return false;
      string symbol = "", comment = "";
      if(!TextKey(doc, req, "symbol", symbol) || !TextKey(doc, req, "comment", comment))
         return false;
      r.action = (ENUM_TRADE_REQUEST_ACTIONS)action;
      r.type = (ENUM_ORDER_TYPE)type;
      r.type_time = (ENUM_ORDER_TYPE_TIME)type_time;
      r.type_filling = (ENUM_ORDER_TYPE_FILLING)type_filling;
      r.expiration = m_clock.ServerFromUtcSec(expiration);  // the request carries UTC seconds
      r.symbol = symbol;
      r.comment = StringSubstr(comment, 0, EB_COMMENT_MAX_LEN);
      return true;
     }

   bool EnumKey(const CMpReader &doc, const int req, const string key, long &out)
     {
      int n = doc.Find(req, key);
      if(n < 0 || doc.IsNil(n))
        { out = 0; return true; }
      if(!doc.IsInt(n) || !doc.FitsLong(n) || doc.Long(n) < -2147483647 || doc.Long(n) > 2147483647)
         return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"" + key + "\" argument");
      out = doc.Long(n);
      return true;
     }

   bool UnsignedKey(const CMpReader &doc, const int req, const string key, ulong &out)
     {
      int n = doc.Find(req, key);
      if(n < 0 || doc.IsNil(n))
        { out = 0; return true; }
      if(doc.Type(n) != MP_UINT)  // a negative or non-integer ticket/magic is refused, never cast
         return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"" + key + "\" argument");
      out = doc.ULong(n);
      return true;
     }

   bool PriceKey(const CMpReader &doc, const int req, const string key, double &out)
     {
      int n = doc.Find(req, key);
      if(n < 0 || doc.IsNil(n))
        { out = 0.0; return true; }
      if(!doc.IsNumber(n) || !MathIsValidNumber(doc.Double(n)))
         return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"" + key + "\" argument");
      out = doc.Double(n);
      return true;
     }

   bool TextKey(const CMpReader &doc, const int req, const string key, string &out)
     {
      int n = doc.Find(req, key);
      if(n < 0 || doc.IsNil(n))
        { out = ""; return true; }
      if(!doc.IsStr(n))
         return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"" + key + "\" argument");
      out = doc.Str(n);
      return true;
     }

public:
   void Init(CBridgeClock *clock, CCopyGate *gate, CSymbolWatch *watch)
     {
      m_clock = clock;
      m_gate = gate;
      m_watch = watch;
      m_records.Init(clock);
      ArrayResize(m_sub_symbol, 0);
      ArrayResize(m_sub_tf, 0);
     }

   CBridgeRecords *Records(void) { return GetPointer(m_records); }
   int    ErrorCode(void) const { return m_code; }
   string ErrorText(void) const { return m_text; }

   int SubscriptionCount(void) const { return ArraySize(m_sub_symbol); }
   string SubscriptionSymbol(const int i) const { return m_sub_symbol[i]; }
   ENUM_TIMEFRAMES SubscriptionPeriod(const int i) const { return EB_TIMEFRAMES[m_sub_tf[i]]; }
   string SubscriptionTimeframe(const int i) const { return EB_TIMEFRAME_NAMES[m_sub_tf[i]]; }

   static bool IsKnownType(const string type)
     {
      for(int i = 0; i < PROTO_REQUESTS_COUNT; i++)
         if(PROTO_REQUESTS[i] == type)
            return true;
      return false;
     }

   // Write the reply `data` of request `type` into `w` (after "data"); false = refused,
   // with ErrorCode()/ErrorText(). order_send runs DoOrderSend() (Session.mqh caches its reply).
   bool Handle(const string type, const CMpReader &doc, const int msg, CMpWriter &w)
     {
      m_code = 0;
      m_text = "";
      if(type == PROTO_ACCOUNT_INFO)        { m_records.AccountRecord(w); return true; }
      if(type == PROTO_TERMINAL_INFO)       { m_records.TerminalRecord(w, true); return true; }
      if(type == PROTO_SYMBOLS_GET)         return DoSymbolsGet(doc, msg, w);
      if(type == PROTO_SYMBOL_INFO)         return DoSymbolInfo(doc, msg, w);
      if(type == PROTO_SYMBOL_INFO_TICK)    return DoSymbolInfoTick(doc, msg, w);
      if(type == PROTO_COPY_RATES_FROM_POS) return DoCopyRatesFromPos(doc, msg, w);
      if(type == PROTO_COPY_TICKS_FROM)     return DoCopyTicksFrom(doc, msg, w);
      if(type == PROTO_ORDER_CALC_MARGIN)   return DoOrderCalcMargin(doc, msg, w);
      if(type == PROTO_ORDER_CALC_PROFIT)   return DoOrderCalcProfit(doc, msg, w);
      if(type == PROTO_ORDER_CHECK)         return DoOrderCheck(doc, msg, w);
      if(type == PROTO_ORDER_SEND)          return DoOrderSend(doc, msg, w);
      if(type == PROTO_POSITIONS_GET)       return DoPositionsGet(doc, msg, w);
      if(type == PROTO_ORDERS_GET)          return DoOrdersGet(doc, msg, w);
      if(type == PROTO_HISTORY_DEALS_GET)   return DoHistoryGet(doc, msg, w, true);
      if(type == PROTO_HISTORY_ORDERS_GET)  return DoHistoryGet(doc, msg, w, false);
      if(type == PROTO_SUBSCRIBE)           return DoSubscribe(doc, msg, w);
      if(type == PROTO_CALENDAR)            return DoCalendar(doc, msg, w);
      if(type == PROTO_SYMBOL_SESSIONS)     return DoSymbolSessions(doc, msg, w);
      return Refuse(MT5_RES_E_INVALID_PARAMS, "unknown request type");
     }

   // --- handlers ---
   bool DoSymbolsGet(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string group = "";
      if(ArgStr(doc, msg, "group", group, false) == EB_ARG_BAD)
         return false;
      w.BeginArray();
      int total = SymbolsTotal(false);
      for(int i = 0; i < total; i++)
        {
         string name = SymbolName(i, false);
         if(MatchGroup(name, group))
            m_records.SymbolRecord(w, name);
        }
      w.End();
      return true;  // a reply too big for one frame fails in the writer and is refused by Session
     }

   bool DoSymbolInfo(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string symbol;
      if(!KnownSymbol(doc, msg, symbol))
         return false;
      m_records.SymbolRecord(w, symbol);
      return true;
     }

   bool DoSymbolInfoTick(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string symbol;
      if(!KnownSymbol(doc, msg, symbol))
         return false;
      MqlTick tick;
      if(!SymbolInfoTick(symbol, tick) || tick.time_msc == 0)
         return Refuse(MT5_RES_E_NOT_FOUND, "no quote for this symbol yet; retry in a moment");
      m_records.TickRecord(w, tick);
      return true;
     }

   bool DoCopyRatesFromPos(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string symbol;
      if(!KnownSymbol(doc, msg, symbol))
         return false;
      int tf = TimeframeIndex(doc, doc.Find(msg, "timeframe"));
      if(tf < 0)
         return false;
      long start_pos = 0, count = 0;
      if(ArgLong(doc, msg, "start_pos", start_pos, false) == EB_ARG_BAD || ArgLong(doc, msg, "count", count, true) != EB_ARG_OK)
         return false;
      if(start_pos < 0 || start_pos > INT_MAX || count < 0)  // CopyRates takes int: never a silent wrap
         return Refuse(MT5_RES_E_INVALID_PARAMS, "start_pos must be 0.." + IntegerToString(INT_MAX) + " and count not negative");
      MqlRates rates[];
      int got = 0;
      if(count > 0)
        {
         if(!m_gate.Ready(symbol, true, EB_TIMEFRAMES[tf]))
            return NotReady(m_gate.Reason());
         ResetLastError();
         got = m_gate.Rates(symbol, EB_TIMEFRAMES[tf], (int)start_pos, (int)MathMin(count, PROTO_MAX_RATES_PER_REPLY), rates);
         if(got < 0)
            return NotReady("CopyRates failed (MQL5 error " + IntegerToString(GetLastError()) + "): history still loading; retry");
        }
      m_records.RateColumns(w, rates, got);
      return true;
     }

   bool DoCopyTicksFrom(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string symbol;
      if(!KnownSymbol(doc, msg, symbol))
         return false;
      long date_from = 0, count = 0, flags = MT5_COPY_TICKS_ALL;
      if(ArgLong(doc, msg, "date_from", date_from, true) != EB_ARG_OK || ArgLong(doc, msg, "count", count, true) != EB_ARG_OK
         || ArgLong(doc, msg, "flags", flags, false) == EB_ARG_BAD)
         return false;
      // A negative date_from cast to ulong becomes a date 584 million years away; a flag outside
      // MQL5's three would be a different copy mode.
      if(date_from < 0 || count < 0)
         return Refuse(MT5_RES_E_INVALID_PARAMS, "date_from and count must not be negative");
      if(flags != MT5_COPY_TICKS_ALL && flags != MT5_COPY_TICKS_INFO && flags != MT5_COPY_TICKS_TRADE)
         return Refuse(MT5_RES_E_INVALID_PARAMS, "flags must be COPY_TICKS_ALL (-1), COPY_TICKS_INFO (1) or COPY_TICKS_TRADE (2)");
      MqlTick ticks[];
      int got = 0;
      if(count > 0)
        {
         if(!m_gate.Ready(symbol, false, PERIOD_M1))
            return NotReady(m_gate.Reason());
         long from = m_clock.ServerMsFromUtcMs(date_from);
         if(from < 0)
            from = 0;  // near 1970 UTC a server west of Greenwich is before its epoch
         ResetLastError();
         got = m_gate.Ticks(symbol, ticks, (uint)flags, (ulong)from, (uint)MathMin(count, PROTO_MAX_TICKS_PER_REPLY));
         int error = GetLastError();
         // ERR_HISTORY_TIMEOUT: the tick base did not finish synchronising; CopyTicks gave what it
         // had, which is not all there is: not an answer yet.
         if(got < 0 || error == ERR_HISTORY_TIMEOUT)
            return NotReady("CopyTicks " + (got < 0 ? "failed" : "timed out synchronising") + " (MQL5 error "
                            + IntegerToString(error) + "): tick history still loading; retry");
        }
      w.BeginMap();
      w.KeyStr("symbol", symbol);
      m_records.TickColumns(w, ticks, 0, got);
      w.End();
      return true;
     }

   bool DoOrderCalcMargin(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      long action = 0;
      string symbol;
      double volume = 0, price = 0, margin = 0;
      if(ArgLong(doc, msg, "action", action, true) != EB_ARG_OK || !KnownSymbol(doc, msg, symbol)
         || ArgDouble(doc, msg, "volume", volume, true) != EB_ARG_OK || ArgDouble(doc, msg, "price", price, true) != EB_ARG_OK)
         return false;
      if(!OrderCalcMargin((ENUM_ORDER_TYPE)action, symbol, volume, price, margin))
         return Refuse(MT5_RES_E_FAIL, "cannot compute margin (MQL5 error " + IntegerToString(GetLastError()) + "): a quote it needs has not arrived; retry shortly");
      w.Double(margin);
      return true;
     }

   bool DoOrderCalcProfit(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      long action = 0;
      string symbol;
      double volume = 0, price_open = 0, price_close = 0, profit = 0;
      if(ArgLong(doc, msg, "action", action, true) != EB_ARG_OK || !KnownSymbol(doc, msg, symbol)
         || ArgDouble(doc, msg, "volume", volume, true) != EB_ARG_OK
         || ArgDouble(doc, msg, "price_open", price_open, true) != EB_ARG_OK
         || ArgDouble(doc, msg, "price_close", price_close, true) != EB_ARG_OK)
         return false;
      if(!OrderCalcProfit((ENUM_ORDER_TYPE)action, symbol, volume, price_open, price_close, profit))
         return Refuse(MT5_RES_E_FAIL, "cannot compute profit (MQL5 error " + IntegerToString(GetLastError()) + "): a quote it needs has not arrived; retry shortly");
      w.Double(profit);
      return true;
     }

   bool DoOrderCheck(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      MqlTradeRequest r;
      if(!TradeRequest(doc, msg, r))
         return false;
      MqlTradeCheckResult c;
      ZeroMemory(c);
      // OrderCheck() is false when the check fails, with the verdict in c.retcode: still a reply.
      if(!OrderCheck(r, c) && c.retcode == 0)
         return Refuse(MT5_RES_E_FAIL, "OrderCheck failed (MQL5 error " + IntegerToString(GetLastError()) + ")");
      m_records.CheckResult(w, c, r);
      return true;
     }

   bool DoOrderSend(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      MqlTradeRequest r;
      if(!TradeRequest(doc, msg, r))
         return false;
      MqlTradeResult res;
      ZeroMemory(res);
      // OrderSend() is false on a rejection, with the trade server's verdict in res.retcode:
      // that is an ok reply with data.retcode, exactly like mt5.order_send.
      if(!OrderSend(r, res) && res.retcode == 0)
         return Refuse(MT5_RES_E_FAIL, "OrderSend failed before reaching the trade server (MQL5 error " + IntegerToString(GetLastError()) + ")");
      m_records.SendResult(w, res, r);
      return true;
     }

   bool DoPositionsGet(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string symbol = "", group = "";
      ulong ticket = 0;
      int has_symbol = ArgStr(doc, msg, "symbol", symbol, false);
      int has_group = ArgStr(doc, msg, "group", group, false);
      int has_ticket = ArgTicket(doc, msg, "ticket", ticket);
      if(has_symbol == EB_ARG_BAD || has_group == EB_ARG_BAD || has_ticket == EB_ARG_BAD)
         return false;
      w.BeginArray();
      for(int i = 0; i < PositionsTotal(); i++)
        {
         ulong t = PositionGetTicket(i);  // selects it
         if(t == 0)
            continue;
         string name = PositionGetString(POSITION_SYMBOL);
         if((has_symbol == EB_ARG_OK && name != symbol) || !MatchGroup(name, group) || (has_ticket == EB_ARG_OK && t != ticket))
            continue;
         m_records.PositionRecord(w);
        }
      w.End();
      return true;
     }

   bool DoOrdersGet(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      string symbol = "", group = "";
      ulong ticket = 0;
      int has_symbol = ArgStr(doc, msg, "symbol", symbol, false);
      int has_group = ArgStr(doc, msg, "group", group, false);
      int has_ticket = ArgTicket(doc, msg, "ticket", ticket);
      if(has_symbol == EB_ARG_BAD || has_group == EB_ARG_BAD || has_ticket == EB_ARG_BAD)
         return false;
      w.BeginArray();
      for(int i = 0; i < OrdersTotal(); i++)
        {
         ulong t = OrderGetTicket(i);  // selects it
         if(t == 0)
            continue;
         string name = OrderGetString(ORDER_SYMBOL);
         if((has_symbol == EB_ARG_OK && name != symbol) || !MatchGroup(name, group) || (has_ticket == EB_ARG_OK && t != ticket))
            continue;
         m_records.OrderRecord(w, false, t);
        }
      w.End();
      return true;
     }

   // history_deals_get / history_orders_get {date_from, date_to | ticket | position, group}:
   // `ticket` is the ORDER ticket for both, as in the MetaTrader5 package.
   bool DoHistoryGet(const CMpReader &doc, const int msg, CMpWriter &w, const bool deals)
     {
      long date_from = 0, date_to = 0;
      ulong ticket = 0, position = 0;
      string group = "";
      int has_from = ArgLong(doc, msg, "date_from", date_from, false);
      int has_to = ArgLong(doc, msg, "date_to", date_to, false);
      int has_ticket = ArgTicket(doc, msg, "ticket", ticket);
      int has_position = ArgTicket(doc, msg, "position", position);
      if(has_from == EB_ARG_BAD || has_to == EB_ARG_BAD || has_ticket == EB_ARG_BAD || has_position == EB_ARG_BAD
         || ArgStr(doc, msg, "group", group, false) == EB_ARG_BAD)
         return false;
      bool selected;
      if(has_position == EB_ARG_OK)
         selected = HistorySelectByPosition(position);
      else
        {
         datetime from = has_from == EB_ARG_OK ? m_clock.ServerFromUtcMs(date_from) : (datetime)0;
         datetime to = has_to == EB_ARG_OK ? m_clock.ServerFromUtcMs(date_to) : TimeTradeServer() + 86400;
         selected = HistorySelect(from, to);
        }
      if(!selected)
         return Refuse(MT5_RES_E_FAIL, "HistorySelect failed (MQL5 error " + IntegerToString(GetLastError()) + "); retry shortly");
      long low = has_from == EB_ARG_OK ? date_from : 0;
      long high = has_to == EB_ARG_OK ? date_to : 9223372036854775807;
      w.BeginArray();
      int total = deals ? HistoryDealsTotal() : HistoryOrdersTotal();
      for(int i = 0; i < total; i++)
        {
         ulong t = deals ? HistoryDealGetTicket(i) : HistoryOrderGetTicket(i);
         if(t == 0)
            continue;
         string name = deals ? HistoryDealGetString(t, DEAL_SYMBOL) : HistoryOrderGetString(t, ORDER_SYMBOL);
         ulong order = deals ? (ulong)HistoryDealGetInteger(t, DEAL_ORDER) : t;
         ulong pos = (ulong)(deals ? HistoryDealGetInteger(t, DEAL_POSITION_ID) : HistoryOrderGetInteger(t, ORDER_POSITION_ID));
         long when = m_clock.UtcMsFromServerMs(deals ? HistoryDealGetInteger(t, DEAL_TIME_MSC) : HistoryOrderGetInteger(t, ORDER_TIME_SETUP_MSC));
         if(!MatchGroup(name, group) || (has_ticket == EB_ARG_OK && order != ticket)
            || (has_position == EB_ARG_OK && pos != position) || when < low || when > high)
            continue;
         if(deals)
            m_records.DealRecord(w, t);
         else
            m_records.OrderRecord(w, true, t);
        }
      w.End();
      return true;
     }

   bool DoSubscribe(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      int symbols = doc.Find(msg, "symbols");
      int timeframes = doc.Find(msg, "timeframes");
      if(symbols >= 0 && !doc.IsNil(symbols) && !doc.IsArray(symbols))
        { Wrong(doc, symbols, "symbols", "list"); return false; }
      if(timeframes >= 0 && !doc.IsNil(timeframes) && !doc.IsArray(timeframes))
        { Wrong(doc, timeframes, "timeframes", "list"); return false; }
      string unknown = "";
      for(int s = doc.First(symbols); s >= 0; s = doc.Next(s))
        {
         bool custom = false;
         if(!doc.IsStr(s))
            return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"symbols\" argument: expected a list of names");
         if(!SymbolExist(doc.Str(s), custom))
            unknown += (unknown == "" ? "'" : ", '") + doc.Str(s) + "'";
        }
      if(unknown != "")
         return Refuse(MT5_RES_E_NOT_FOUND, "unknown symbol(s) [" + unknown + "]; use symbols_get to list them");
      int tfs[];
      for(int t = doc.First(timeframes); t >= 0; t = doc.Next(t))
        {
         int tf = TimeframeIndex(doc, t);
         if(tf < 0)
            return false;
         int n = ArraySize(tfs);
         ArrayResize(tfs, n + 1);
         tfs[n] = tf;
        }
      for(int s = doc.First(symbols); s >= 0; s = doc.Next(s))
        {
         SymbolSelect(doc.Str(s), true);  // subscribed: it stays in Market Watch and streams
         m_watch.Keep(doc.Str(s));
         for(int k = 0; k < ArraySize(tfs); k++)
            AddSubscription(doc.Str(s), tfs[k]);
        }
      w.BeginMap();
      w.Key("subscriptions");
      w.BeginArray();
      for(int i = 0; i < ArraySize(m_sub_symbol); i++)
        {
         w.BeginArray();
         w.Str(m_sub_symbol[i]);
         w.Str(EB_TIMEFRAME_NAMES[m_sub_tf[i]]);
         w.End();
        }
      w.End();
      w.End();
      return true;
     }

   void AddSubscription(const string symbol, const int tf)
     {
      int n = ArraySize(m_sub_symbol);
      for(int i = 0; i < n; i++)
         if(m_sub_symbol[i] == symbol && m_sub_tf[i] == tf)
            return;
      if(n >= EB_MAX_SUBSCRIPTIONS)
         return;
      // Kept sorted by (symbol, timeframe name), as the simulator's reply is.
      int at = n;
      while(at > 0 && (m_sub_symbol[at - 1] > symbol
                       || (m_sub_symbol[at - 1] == symbol && EB_TIMEFRAME_NAMES[m_sub_tf[at - 1]] > EB_TIMEFRAME_NAMES[tf])))
         at--;
      ArrayResize(m_sub_symbol, n + 1);
      ArrayResize(m_sub_tf, n + 1);
      for(int i = n; i > at; i--)
        {
         m_sub_symbol[i] = m_sub_symbol[i - 1];
         m_sub_tf[i] = m_sub_tf[i - 1];
        }
      m_sub_symbol[at] = symbol;
      m_sub_tf[at] = tf;
     }

   // EXTENSION (see the file header): economic calendar values with their event and country.
   bool DoCalendar(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      long date_from = 0, date_to = 0;
      string country = "", currency = "";
      if(ArgLong(doc, msg, "date_from", date_from, true) != EB_ARG_OK || ArgLong(doc, msg, "date_to", date_to, true) != EB_ARG_OK
         || ArgStr(doc, msg, "country", country, false) == EB_ARG_BAD || ArgStr(doc, msg, "currency", currency, false) == EB_ARG_BAD)
         return false;
      MqlCalendarValue values[];
      // Calendar times are the trade server's wall clock, like every other MT5 time; "" = any.
      // CalendarValueHistory selects date_from <= time < date_to, as the simulator does.
      if(CalendarValueHistory(values, m_clock.ServerFromUtcMs(date_from), m_clock.ServerFromUtcMs(date_to),
                              country, currency) < 0)
         return Refuse(MT5_RES_E_FAIL, "CalendarValueHistory failed (MQL5 error " + IntegerToString(GetLastError()) + ")");
      w.BeginArray();
      for(int i = 0; i < ArraySize(values); i++)
        {
         MqlCalendarEvent event;
         MqlCalendarCountry where;
         bool has_event = CalendarEventById(values[i].event_id, event);
         bool has_country = has_event && CalendarCountryById(event.country_id, where);
         w.BeginMap();
         w.KeyUInt("id", values[i].id);
         w.KeyUInt("event_id", values[i].event_id);
         w.KeyInt("time", m_clock.UtcMsFromServer(values[i].time));
         w.KeyInt("period", m_clock.UtcMsFromServer(values[i].period));
         w.KeyInt("revision", values[i].revision);
         CalendarNumber(w, "actual_value", values[i].actual_value);
         CalendarNumber(w, "prev_value", values[i].prev_value);
         CalendarNumber(w, "revised_prev_value", values[i].revised_prev_value);
         CalendarNumber(w, "forecast_value", values[i].forecast_value);
         w.KeyInt("impact_type", (long)values[i].impact_type);
         w.KeyStr("event_name", has_event ? event.name : "");
         w.KeyInt("importance", has_event ? (long)event.importance : 0);
         w.KeyStr("country_code", has_country ? where.code : "");
         w.KeyStr("currency", has_country ? where.currency : "");
         w.End();
        }
      w.End();
      return true;
     }

   // EXTENSION: each symbol's trading sessions, [day_of_week (Sunday = 0), from_s, to_s] in
   // seconds from the server's midnight, exactly as SymbolInfoSessionTrade gives them: `to`
   // may pass 86 400 (a session ending after midnight) or be 0. The executor reads them by
   // one rule, bridge/protocol.py session_span; the EA folds nothing.
   bool DoSymbolSessions(const CMpReader &doc, const int msg, CMpWriter &w)
     {
      int symbols = doc.Find(msg, "symbols");
      if(symbols < 0 || doc.IsNil(symbols))
         return Refuse(MT5_RES_E_INVALID_PARAMS, "missing \"symbols\" argument");
      if(!doc.IsArray(symbols))
        { Wrong(doc, symbols, "symbols", "list"); return false; }
      string unknown = "";
      for(int s = doc.First(symbols); s >= 0; s = doc.Next(s))
        {
         bool custom = false;
         if(!doc.IsStr(s))
            return Refuse(MT5_RES_E_INVALID_PARAMS, "Invalid \"symbols\" argument: expected a list of names");
         if(!SymbolExist(doc.Str(s), custom))
            unknown += (unknown == "" ? "'" : ", '") + doc.Str(s) + "'";
        }
      if(unknown != "")
         return Refuse(MT5_RES_E_NOT_FOUND, "unknown symbol(s) [" + unknown + "]; use symbols_get to list them");
      w.BeginMap();
      for(int s = doc.First(symbols); s >= 0; s = doc.Next(s))
        {
         w.Key(doc.Str(s));
         w.BeginArray();
         for(int day = 0; day < 7; day++)
           {
            datetime from = 0, to = 0;
            for(uint index = 0; SymbolInfoSessionTrade(doc.Str(s), (ENUM_DAY_OF_WEEK)day, index, from, to); index++)
              {
               w.BeginArray();
               w.Int(day);
               w.Int((long)from);
               w.Int((long)to);
               w.End();
              }
           }
         w.End();
        }
      w.End();
      return true;
     }

   // Calendar numbers are integers scaled by 10^6; LONG_MIN means "no value" (nil on the wire).
   void CalendarNumber(CMpWriter &w, const string key, const long raw)
     {
      if(raw == LONG_MIN)
         w.KeyNil(key);
      else
         w.KeyDouble(key, raw / 1000000.0);
     }
  };

#endif // EXECUTOR_BRIDGE_HANDLERS_MQH
