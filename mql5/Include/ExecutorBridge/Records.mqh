//+------------------------------------------------------------------+
//| Records.mqh: MT5 records written as the MetaTrader5 package's    |
//| dicts (AccountInfo, TerminalInfo, SymbolInfo, Tick, TradePosition|
//| TradeOrder, TradeDeal, OrderSendResult, OrderCheckResult,        |
//| MqlTradeTransaction), with the field names of bridge/sim_records |
//| .py and bridge/trade_server/server.py, every time converted to UTC      |
//| (`time*` seconds, `time*_msc` milliseconds) and every ticket and |
//| magic written as uint64.                                         |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_RECORDS_MQH
#define EXECUTOR_BRIDGE_RECORDS_MQH

#include "Protocol.mqh"
#include "Msgpack.mqh"
#include "Clock.mqh"

#define EB_TERMINAL_NAME_FALLBACK "MetaTrader 5"

class CBridgeRecords
  {
private:
   CBridgeClock *m_clock;

   long UtcMs(const long server_ms) const { return server_ms == 0 ? 0 : m_clock.UtcMsFromServerMs(server_ms); }
   long UtcSec(const long server_s) const { return m_clock.UtcSecFromServer((datetime)server_s); }

public:
   void Init(CBridgeClock *clock) { m_clock = clock; }

   // --- account and terminal ---
   void AccountRecord(CMpWriter &w)
     {
      w.BeginMap();
      w.KeyInt("login", AccountInfoInteger(ACCOUNT_LOGIN));
      w.KeyInt("trade_mode", AccountInfoInteger(ACCOUNT_TRADE_MODE));
      w.KeyInt("leverage", AccountInfoInteger(ACCOUNT_LEVERAGE));
      w.KeyInt("limit_orders", AccountInfoInteger(ACCOUNT_LIMIT_ORDERS));
      w.KeyInt("margin_so_mode", AccountInfoInteger(ACCOUNT_MARGIN_SO_MODE));
      w.KeyBool("trade_allowed", AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) != 0);
      w.KeyBool("trade_expert", AccountInfoInteger(ACCOUNT_TRADE_EXPERT) != 0);
      w.KeyInt("margin_mode", AccountInfoInteger(ACCOUNT_MARGIN_MODE));
      w.KeyInt("currency_digits", AccountInfoInteger(ACCOUNT_CURRENCY_DIGITS));
      w.KeyBool("fifo_close", AccountInfoInteger(ACCOUNT_FIFO_CLOSE) != 0);
      w.KeyDouble("balance", AccountInfoDouble(ACCOUNT_BALANCE));
      w.KeyDouble("credit", AccountInfoDouble(ACCOUNT_CREDIT));
      w.KeyDouble("profit", AccountInfoDouble(ACCOUNT_PROFIT));
      w.KeyDouble("equity", AccountInfoDouble(ACCOUNT_EQUITY));
      w.KeyDouble("margin", AccountInfoDouble(ACCOUNT_MARGIN));
      w.KeyDouble("margin_free", AccountInfoDouble(ACCOUNT_MARGIN_FREE));
      w.KeyDouble("margin_level", AccountInfoDouble(ACCOUNT_MARGIN_LEVEL));
      w.KeyDouble("margin_so_call", AccountInfoDouble(ACCOUNT_MARGIN_SO_CALL));
      w.KeyDouble("margin_so_so", AccountInfoDouble(ACCOUNT_MARGIN_SO_SO));
      w.KeyDouble("margin_initial", AccountInfoDouble(ACCOUNT_MARGIN_INITIAL));
      w.KeyDouble("margin_maintenance", AccountInfoDouble(ACCOUNT_MARGIN_MAINTENANCE));
      w.KeyDouble("assets", AccountInfoDouble(ACCOUNT_ASSETS));
      w.KeyDouble("liabilities", AccountInfoDouble(ACCOUNT_LIABILITIES));
      w.KeyDouble("commission_blocked", AccountInfoDouble(ACCOUNT_COMMISSION_BLOCKED));
      w.KeyStr("name", AccountInfoString(ACCOUNT_NAME));
      w.KeyStr("server", AccountInfoString(ACCOUNT_SERVER));
      w.KeyStr("currency", AccountInfoString(ACCOUNT_CURRENCY));
      w.KeyStr("company", AccountInfoString(ACCOUNT_COMPANY));
      w.End();
     }

   bool TradeAllowed(void) const
     {
      // Both switches must be on: the terminal's AutoTrading button and this EA's "Allow Algo Trading".
      return TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) != 0 && MQLInfoInteger(MQL_TRADE_ALLOWED) != 0;
     }

   bool Connected(void) const { return TerminalInfoInteger(TERMINAL_CONNECTED) != 0; }

   // The hello's subset (build, connected, trade_allowed, name) or the full terminal_info.
   void TerminalRecord(CMpWriter &w, const bool full)
     {
      w.BeginMap();
      w.KeyInt("build", TerminalInfoInteger(TERMINAL_BUILD));
      w.KeyBool("connected", Connected());
      w.KeyBool("trade_allowed", TradeAllowed());
      w.KeyStr("name", TerminalInfoString(TERMINAL_NAME));
      if(full)
        {
         w.KeyBool("tradeapi_disabled", false);
         w.KeyStr("company", TerminalInfoString(TERMINAL_COMPANY));
         w.KeyStr("language", TerminalInfoString(TERMINAL_LANGUAGE));
         w.KeyStr("path", TerminalInfoString(TERMINAL_PATH));
         w.KeyStr("data_path", TerminalInfoString(TERMINAL_DATA_PATH));
         w.KeyStr("commondata_path", TerminalInfoString(TERMINAL_COMMONDATA_PATH));
         w.KeyInt("codepage", TerminalInfoInteger(TERMINAL_CODEPAGE));
         w.KeyInt("maxbars", TerminalInfoInteger(TERMINAL_MAXBARS));
         w.KeyInt("ping_last", TerminalInfoInteger(TERMINAL_PING_LAST));
         w.KeyBool("dlls_allowed", TerminalInfoInteger(TERMINAL_DLLS_ALLOWED) != 0);
         w.KeyBool("community_account", TerminalInfoInteger(TERMINAL_COMMUNITY_ACCOUNT) != 0);
         w.KeyBool("community_connection", TerminalInfoInteger(TERMINAL_COMMUNITY_CONNECTION) != 0);
         w.KeyDouble("community_balance", TerminalInfoDouble(TERMINAL_COMMUNITY_BALANCE));
         w.KeyBool("email_enabled", TerminalInfoInteger(TERMINAL_EMAIL_ENABLED) != 0);
         w.KeyBool("ftp_enabled", TerminalInfoInteger(TERMINAL_FTP_ENABLED) != 0);
         w.KeyBool("notifications_enabled", TerminalInfoInteger(TERMINAL_NOTIFICATIONS_ENABLED) != 0);
         w.KeyBool("mqid", TerminalInfoInteger(TERMINAL_MQID) != 0);
         w.KeyDouble("retransmission", TerminalInfoDouble(TERMINAL_RETRANSMISSION));
         TzFields(w);
        }
      w.End();
     }

   // `tz_offset_s` (the offset now) and `tz_history` (the offsets this EA has seen, oldest
   // first): what hello and terminal_info say of the server's zone (bridge/protocol.py).
   void TzFields(CMpWriter &w)
     {
      w.KeyInt("tz_offset_s", m_clock.TzOffsetS());
      w.Key(PROTO_TZ_HISTORY);
      w.BeginArray();
      for(int i = 0; i < m_clock.TzCount(); i++)
        {
         w.BeginArray();
         w.Int(m_clock.TzFrom(i));
         w.Int(m_clock.TzOffset(i));
         w.End();
        }
      w.End();
     }

   // --- symbols and quotes ---
   void SymbolRecord(CMpWriter &w, const string name)
     {
      w.BeginMap();
      w.KeyStr("name", name);
      w.KeyStr("description", SymbolInfoString(name, SYMBOL_DESCRIPTION));
      w.KeyStr("path", SymbolInfoString(name, SYMBOL_PATH));
      w.KeyStr("currency_base", SymbolInfoString(name, SYMBOL_CURRENCY_BASE));
      w.KeyStr("currency_profit", SymbolInfoString(name, SYMBOL_CURRENCY_PROFIT));
      w.KeyStr("currency_margin", SymbolInfoString(name, SYMBOL_CURRENCY_MARGIN));
      w.KeyInt("digits", SymbolInfoInteger(name, SYMBOL_DIGITS));
      w.KeyDouble("point", SymbolInfoDouble(name, SYMBOL_POINT));
      w.KeyDouble("trade_contract_size", SymbolInfoDouble(name, SYMBOL_TRADE_CONTRACT_SIZE));
      w.KeyDouble("trade_tick_size", SymbolInfoDouble(name, SYMBOL_TRADE_TICK_SIZE));
      w.KeyDouble("trade_tick_value", SymbolInfoDouble(name, SYMBOL_TRADE_TICK_VALUE));
      w.KeyDouble("trade_tick_value_profit", SymbolInfoDouble(name, SYMBOL_TRADE_TICK_VALUE_PROFIT));
      w.KeyDouble("trade_tick_value_loss", SymbolInfoDouble(name, SYMBOL_TRADE_TICK_VALUE_LOSS));
      w.KeyInt("trade_calc_mode", SymbolInfoInteger(name, SYMBOL_TRADE_CALC_MODE));
      w.KeyInt("trade_mode", SymbolInfoInteger(name, SYMBOL_TRADE_MODE));
      w.KeyInt("trade_exemode", SymbolInfoInteger(name, SYMBOL_TRADE_EXEMODE));
      w.KeyInt("filling_mode", SymbolInfoInteger(name, SYMBOL_FILLING_MODE));
      w.KeyInt("expiration_mode", SymbolInfoInteger(name, SYMBOL_EXPIRATION_MODE));
      w.KeyInt("order_mode", SymbolInfoInteger(name, SYMBOL_ORDER_MODE));
      w.KeyDouble("volume_min", SymbolInfoDouble(name, SYMBOL_VOLUME_MIN));
      w.KeyDouble("volume_max", SymbolInfoDouble(name, SYMBOL_VOLUME_MAX));
      w.KeyDouble("volume_step", SymbolInfoDouble(name, SYMBOL_VOLUME_STEP));
      w.KeyDouble("volume_limit", SymbolInfoDouble(name, SYMBOL_VOLUME_LIMIT));
      w.KeyInt("trade_stops_level", SymbolInfoInteger(name, SYMBOL_TRADE_STOPS_LEVEL));
      w.KeyInt("trade_freeze_level", SymbolInfoInteger(name, SYMBOL_TRADE_FREEZE_LEVEL));
      w.KeyDouble("margin_initial", SymbolInfoDouble(name, SYMBOL_MARGIN_INITIAL));
      w.KeyDouble("margin_maintenance", SymbolInfoDouble(name, SYMBOL_MARGIN_MAINTENANCE));
      w.KeyInt("swap_mode", SymbolInfoInteger(name, SYMBOL_SWAP_MODE));
      w.KeyDouble("swap_long", SymbolInfoDouble(name, SYMBOL_SWAP_LONG));
      w.KeyDouble("swap_short", SymbolInfoDouble(name, SYMBOL_SWAP_SHORT));
      w.KeyInt("swap_rollover3days", SymbolInfoInteger(name, SYMBOL_SWAP_ROLLOVER3DAYS));
      w.KeyInt("spread", SymbolInfoInteger(name, SYMBOL_SPREAD));
      w.KeyBool("spread_float", SymbolInfoInteger(name, SYMBOL_SPREAD_FLOAT) != 0);
      w.KeyDouble("bid", SymbolInfoDouble(name, SYMBOL_BID));
      w.KeyDouble("ask", SymbolInfoDouble(name, SYMBOL_ASK));
      w.KeyDouble("last", SymbolInfoDouble(name, SYMBOL_LAST));
      MqlTick tick;
      if(!SymbolInfoTick(name, tick))
         ZeroMemory(tick);
      w.KeyInt("time", UtcSec((long)tick.time));
      w.KeyInt("time_msc", UtcMs(tick.time_msc));
      w.KeyBool("select", SymbolInfoInteger(name, SYMBOL_SELECT) != 0);
      w.KeyBool("visible", SymbolInfoInteger(name, SYMBOL_VISIBLE) != 0);
      w.KeyBool("custom", SymbolInfoInteger(name, SYMBOL_CUSTOM) != 0);
      w.End();
     }

   void TickRecord(CMpWriter &w, const MqlTick &tick)
     {
      w.BeginMap();
      w.KeyInt("time", UtcSec((long)tick.time));
      w.KeyDouble("bid", tick.bid);
      w.KeyDouble("ask", tick.ask);
      w.KeyDouble("last", tick.last);
      w.KeyUInt("volume", tick.volume);
      w.KeyInt("time_msc", UtcMs(tick.time_msc));
      w.KeyInt("flags", (long)tick.flags);
      w.KeyDouble("volume_real", tick.volume_real);
      w.End();
     }

   // The tick columns of the `tick.<SYMBOL>` topic and of copy_ticks_from (sim_market.tick_columns).
   void TickColumns(CMpWriter &w, const MqlTick &ticks[], const int from, const int count)
     {
      w.Key("time_msc");
      w.BeginArray();
      for(int i = from; i < from + count; i++) w.Int(UtcMs(ticks[i].time_msc));
      w.End();
      w.Key("bid");
      w.BeginArray();
      for(int i = from; i < from + count; i++) w.Double(ticks[i].bid);
      w.End();
      w.Key("ask");
      w.BeginArray();
      for(int i = from; i < from + count; i++) w.Double(ticks[i].ask);
      w.End();
      w.Key("last");
      w.BeginArray();
      for(int i = from; i < from + count; i++) w.Double(ticks[i].last);
      w.End();
      w.Key("volume_real");
      w.BeginArray();
      for(int i = from; i < from + count; i++) w.Double(ticks[i].volume_real);
      w.End();
      w.Key("flags");
      w.BeginArray();
      for(int i = from; i < from + count; i++) w.Int((long)ticks[i].flags);
      w.End();
     }

   // copy_rates_from_pos: columns, oldest first, `time` = bar open in ms UTC (sim_market.rate_rows).
   void RateColumns(CMpWriter &w, const MqlRates &rates[], const int count)
     {
      w.BeginMap();
      w.Key("time");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Int(m_clock.BarUtcMs(rates[i].time));
      w.End();
      w.Key("open");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Double(rates[i].open);
      w.End();
      w.Key("high");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Double(rates[i].high);
      w.End();
      w.Key("low");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Double(rates[i].low);
      w.End();
      w.Key("close");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Double(rates[i].close);
      w.End();
      w.Key("tick_volume");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Int(rates[i].tick_volume);
      w.End();
      w.Key("spread");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Int(rates[i].spread);
      w.End();
      w.Key("real_volume");
      w.BeginArray();
      for(int i = 0; i < count; i++) w.Double((double)rates[i].real_volume);
      w.End();
      w.End();
     }

   // The fields of one bar on the `bar.<SYMBOL>.<TF>` topic (after symbol, timeframe, closed).
   void BarFields(CMpWriter &w, const MqlRates &bar)
     {
      w.KeyInt("time", m_clock.BarUtcMs(bar.time));
      w.KeyDouble("open", bar.open);
      w.KeyDouble("high", bar.high);
      w.KeyDouble("low", bar.low);
      w.KeyDouble("close", bar.close);
      w.KeyInt("tick_volume", bar.tick_volume);
      w.KeyInt("spread", bar.spread);
      w.KeyDouble("real_volume", (double)bar.real_volume);
     }

   // --- positions, orders, deals (the record must be selected / in the selected history) ---
   void PositionRecord(CMpWriter &w)
     {
      w.BeginMap();
      w.KeyUInt("ticket", (ulong)PositionGetInteger(POSITION_TICKET));
      w.KeyInt("time", UtcSec(PositionGetInteger(POSITION_TIME)));
      w.KeyInt("time_msc", UtcMs(PositionGetInteger(POSITION_TIME_MSC)));
      w.KeyInt("time_update", UtcSec(PositionGetInteger(POSITION_TIME_UPDATE)));
      w.KeyInt("time_update_msc", UtcMs(PositionGetInteger(POSITION_TIME_UPDATE_MSC)));
      w.KeyInt("type", PositionGetInteger(POSITION_TYPE));
      w.KeyUInt("magic", (ulong)PositionGetInteger(POSITION_MAGIC));
      w.KeyUInt("identifier", (ulong)PositionGetInteger(POSITION_IDENTIFIER));
      w.KeyInt("reason", PositionGetInteger(POSITION_REASON));
      w.KeyDouble("volume", PositionGetDouble(POSITION_VOLUME));
      w.KeyDouble("price_open", PositionGetDouble(POSITION_PRICE_OPEN));
      w.KeyDouble("sl", PositionGetDouble(POSITION_SL));
      w.KeyDouble("tp", PositionGetDouble(POSITION_TP));
      w.KeyDouble("price_current", PositionGetDouble(POSITION_PRICE_CURRENT));
      w.KeyDouble("swap", PositionGetDouble(POSITION_SWAP));
      w.KeyDouble("profit", PositionGetDouble(POSITION_PROFIT));
      w.KeyStr("symbol", PositionGetString(POSITION_SYMBOL));
      w.KeyStr("comment", PositionGetString(POSITION_COMMENT));
      w.KeyStr("external_id", PositionGetString(POSITION_EXTERNAL_ID));
      w.End();
     }

   // A live order (selected by OrderGetTicket) when history is false, else history order `ticket`.
   void OrderRecord(CMpWriter &w, const bool history, const ulong ticket)
     {
      w.BeginMap();
      w.KeyUInt("ticket", ticket);
      w.KeyInt("time_setup", UtcSec(OInt(history, ticket, ORDER_TIME_SETUP)));
      w.KeyInt("time_setup_msc", UtcMs(OInt(history, ticket, ORDER_TIME_SETUP_MSC)));
      w.KeyInt("time_done", UtcSec(OInt(history, ticket, ORDER_TIME_DONE)));
      w.KeyInt("time_done_msc", UtcMs(OInt(history, ticket, ORDER_TIME_DONE_MSC)));
      w.KeyInt("time_expiration", UtcSec(OInt(history, ticket, ORDER_TIME_EXPIRATION)));
      w.KeyInt("type", OInt(history, ticket, ORDER_TYPE));
      w.KeyInt("type_time", OInt(history, ticket, ORDER_TYPE_TIME));
      w.KeyInt("type_filling", OInt(history, ticket, ORDER_TYPE_FILLING));
      w.KeyInt("state", OInt(history, ticket, ORDER_STATE));
      w.KeyUInt("magic", (ulong)OInt(history, ticket, ORDER_MAGIC));
      w.KeyUInt("position_id", (ulong)OInt(history, ticket, ORDER_POSITION_ID));
      w.KeyUInt("position_by_id", (ulong)OInt(history, ticket, ORDER_POSITION_BY_ID));
      w.KeyInt("reason", OInt(history, ticket, ORDER_REASON));
      w.KeyDouble("volume_initial", ODbl(history, ticket, ORDER_VOLUME_INITIAL));
      w.KeyDouble("volume_current", ODbl(history, ticket, ORDER_VOLUME_CURRENT));
      w.KeyDouble("price_open", ODbl(history, ticket, ORDER_PRICE_OPEN));
      w.KeyDouble("sl", ODbl(history, ticket, ORDER_SL));
      w.KeyDouble("tp", ODbl(history, ticket, ORDER_TP));
      w.KeyDouble("price_current", ODbl(history, ticket, ORDER_PRICE_CURRENT));
      w.KeyDouble("price_stoplimit", ODbl(history, ticket, ORDER_PRICE_STOPLIMIT));
      w.KeyStr("symbol", OStr(history, ticket, ORDER_SYMBOL));
      w.KeyStr("comment", OStr(history, ticket, ORDER_COMMENT));
      w.KeyStr("external_id", OStr(history, ticket, ORDER_EXTERNAL_ID));
      w.End();
     }

   long   OInt(const bool h, const ulong t, const ENUM_ORDER_PROPERTY_INTEGER p) const { return h ? HistoryOrderGetInteger(t, p) : OrderGetInteger(p); }
   double ODbl(const bool h, const ulong t, const ENUM_ORDER_PROPERTY_DOUBLE p) const  { return h ? HistoryOrderGetDouble(t, p) : OrderGetDouble(p); }
   string OStr(const bool h, const ulong t, const ENUM_ORDER_PROPERTY_STRING p) const  { return h ? HistoryOrderGetString(t, p) : OrderGetString(p); }

   void DealRecord(CMpWriter &w, const ulong ticket)
     {
      w.BeginMap();
      w.KeyUInt("ticket", ticket);
      w.KeyUInt("order", (ulong)HistoryDealGetInteger(ticket, DEAL_ORDER));
      w.KeyInt("time", UtcSec(HistoryDealGetInteger(ticket, DEAL_TIME)));
      w.KeyInt("time_msc", UtcMs(HistoryDealGetInteger(ticket, DEAL_TIME_MSC)));
      w.KeyInt("type", HistoryDealGetInteger(ticket, DEAL_TYPE));
      w.KeyInt("entry", HistoryDealGetInteger(ticket, DEAL_ENTRY));
      w.KeyUInt("magic", (ulong)HistoryDealGetInteger(ticket, DEAL_MAGIC));
      w.KeyInt("reason", HistoryDealGetInteger(ticket, DEAL_REASON));
      w.KeyUInt("position_id", (ulong)HistoryDealGetInteger(ticket, DEAL_POSITION_ID));
      w.KeyDouble("volume", HistoryDealGetDouble(ticket, DEAL_VOLUME));
      w.KeyDouble("price", HistoryDealGetDouble(ticket, DEAL_PRICE));
      w.KeyDouble("commission", HistoryDealGetDouble(ticket, DEAL_COMMISSION));
      w.KeyDouble("swap", HistoryDealGetDouble(ticket, DEAL_SWAP));
      w.KeyDouble("profit", HistoryDealGetDouble(ticket, DEAL_PROFIT));
      w.KeyDouble("fee", HistoryDealGetDouble(ticket, DEAL_FEE));
      w.KeyStr("symbol", HistoryDealGetString(ticket, DEAL_SYMBOL));
      w.KeyStr("comment", HistoryDealGetString(ticket, DEAL_COMMENT));
      w.KeyStr("external_id", HistoryDealGetString(ticket, DEAL_EXTERNAL_ID));
      w.End();
     }

   // --- trade requests and their outcomes ---
   // The request dict with every key of MT5_TRADE_REQUEST_KEYS, in that order (sim_checks.normalize_request).
   void RequestRecord(CMpWriter &w, const MqlTradeRequest &r)
     {
      w.BeginMap();
      w.KeyInt("action", (long)r.action);
      w.KeyStr("symbol", r.symbol);
      w.KeyDouble("volume", r.volume);
      w.KeyInt("type", (long)r.type);
      w.KeyDouble("price", r.price);
      w.KeyDouble("stoplimit", r.stoplimit);
      w.KeyDouble("sl", r.sl);
      w.KeyDouble("tp", r.tp);
      w.KeyUInt("deviation", r.deviation);
      w.KeyUInt("magic", r.magic);
      w.KeyStr("comment", r.comment);
      w.KeyInt("type_time", (long)r.type_time);
      w.KeyInt("type_filling", (long)r.type_filling);
      w.KeyInt("expiration", UtcSec((long)r.expiration));
      w.KeyUInt("position", r.position);
      w.KeyUInt("position_by", r.position_by);
      w.KeyUInt("order", r.order);
      w.End();
     }

   void SendResult(CMpWriter &w, const MqlTradeResult &res, const MqlTradeRequest &req)
     {
      w.BeginMap();
      w.KeyInt("retcode", (long)res.retcode);
      w.KeyUInt("deal", res.deal);
      w.KeyUInt("order", res.order);
      w.KeyDouble("volume", res.volume);
      w.KeyDouble("price", res.price);
      w.KeyDouble("bid", res.bid);
      w.KeyDouble("ask", res.ask);
      w.KeyStr("comment", res.comment);
      w.KeyInt("request_id", (long)res.request_id);
      w.KeyInt("retcode_external", (long)res.retcode_external);
      w.Key("request");
      RequestRecord(w, req);
      w.End();
     }

   void CheckResult(CMpWriter &w, const MqlTradeCheckResult &c, const MqlTradeRequest &req)
     {
      w.BeginMap();
      w.KeyInt("retcode", (long)c.retcode);
      w.KeyDouble("balance", c.balance);
      w.KeyDouble("equity", c.equity);
      w.KeyDouble("profit", c.profit);
      w.KeyDouble("margin", c.margin);
      w.KeyDouble("margin_free", c.margin_free);
      w.KeyDouble("margin_level", c.margin_level);
      w.KeyStr("comment", c.comment);
      w.Key("request");
      RequestRecord(w, req);
      w.End();
     }

   // The fields of a trade_transaction event: trans (with type_name), request and result
   // (nil unless trans.type is TRADE_TRANSACTION_REQUEST, as in sim_records.transaction).
   void TransactionFields(CMpWriter &w, const MqlTradeTransaction &t, const MqlTradeRequest &req, const MqlTradeResult &res)
     {
      w.Key("trans");
      w.BeginMap();
      w.KeyUInt("deal", t.deal);
      w.KeyUInt("order", t.order);
      w.KeyStr("symbol", t.symbol);
      w.KeyInt("type", (long)t.type);
      string name = MT5_TRANSACTION_TYPE_NAMES((int)t.type);
      w.KeyStr("type_name", name == "" ? "UNKNOWN" : name);
      w.KeyInt("order_type", (long)t.order_type);
      w.KeyInt("order_state", (long)t.order_state);
      w.KeyInt("deal_type", (long)t.deal_type);
      w.KeyInt("time_type", (long)t.time_type);
      w.KeyInt("time_expiration", UtcSec((long)t.time_expiration));
      w.KeyDouble("price", t.price);
      w.KeyDouble("price_trigger", t.price_trigger);
      w.KeyDouble("price_sl", t.price_sl);
      w.KeyDouble("price_tp", t.price_tp);
      w.KeyDouble("volume", t.volume);
      w.KeyUInt("position", t.position);
      w.KeyUInt("position_by", t.position_by);
      w.End();
      if(t.type == TRADE_TRANSACTION_REQUEST)
        {
         w.Key("request");
         RequestRecord(w, req);
         w.Key("result");
         SendResult(w, res, req);
        }
      else
        {
         w.KeyNil("request");
         w.KeyNil("result");
        }
     }
  };

#endif // EXECUTOR_BRIDGE_RECORDS_MQH
