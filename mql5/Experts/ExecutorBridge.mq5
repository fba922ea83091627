//+------------------------------------------------------------------+
//| ExecutorBridge.mq5: connects this terminal to the MT5 strategy   |
//| executor over ZeroMQ + msgpack (docs/ea-protocol.md).            |
//|                                                                  |
//| Only the event handlers live here; everything else is in         |
//| Include/ExecutorBridge/ (Session.mqh wires the parts). Attach to |
//| ONE chart per account, with "Allow DLL imports" and Algo Trading |
//| on; MQL5/Libraries/libzmq.dll must be libzmq 4.3.5 x64 (see      |
//| ZmqImport.mqh and the project README).                           |
//+------------------------------------------------------------------+
#property copyright "MT5 strategy executor"
#property version   "1.00"
#property description "Bridge to the MT5 strategy executor: requests and events on CTL (5557), ticks and bars on MD (5558)."

#include <ExecutorBridge\Session.mqh>

input string InpCtlEndpoint = PROTO_DEFAULT_CTL_ENDPOINT; // CTL endpoint (executor ROUTER, run.py --ea-ctl)
input string InpMdEndpoint  = PROTO_DEFAULT_MD_ENDPOINT;  // MD endpoint (executor SUB, run.py --ea-md)
input int    InpTimerMs     = 10;                     // how often requests are drained (ms)
// CURVE (encrypted, only allow-listed keys; required when the executor is on another host):
// `python run.py keys curve-terminal LOGIN` on the executor prints these three. All empty: no CURVE.
input string InpServerKey   = "";                     // CURVE: the executor's public key (40 characters)
input string InpPublicKey   = "";                     // CURVE: this terminal's public key
input string InpSecretKey   = "";                     // CURVE: this terminal's secret key (keep it private)

CBridgeSession g_session;

// Never INIT_FAILED for a terminal that is not ready yet (login 0 right after a restart, DLL
// imports not allowed yet): that would unload the EA for good. The session waits and retries
// from the timer, saying in the Experts tab what it waits for. Only a missing timer fails: with
// no timer nothing could retry.
int OnInit(void)
  {
   if(!EventSetMillisecondTimer(MathMax(InpTimerMs, 1)))
     {
      Print("ExecutorBridge: cannot start the timer (error ", GetLastError(), "); attach the EA again");
      return INIT_FAILED;
     }
   g_session.Start(InpCtlEndpoint, InpMdEndpoint, InpServerKey, InpPublicKey, InpSecretKey);
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   string why;
   switch(reason)
     {
      case REASON_PROGRAM:     why = "ExpertRemove() called"; break;
      case REASON_REMOVE:      why = "removed from the chart"; break;
      case REASON_RECOMPILE:   why = "recompiled; a new instance (new boot) follows"; break;
      case REASON_CHARTCHANGE: why = "chart symbol or period changed; a new instance (new boot) follows"; break;
      case REASON_CHARTCLOSE:  why = "chart closed"; break;
      case REASON_PARAMETERS:  why = "inputs changed; a new instance (new boot) follows"; break;
      case REASON_ACCOUNT:     why = "account changed; the new account connects as its own terminal"; break;
      case REASON_TEMPLATE:    why = "template applied"; break;
      case REASON_INITFAILED:  why = "OnInit failed"; break;
      case REASON_CLOSE:       why = "terminal closing"; break;
      default:                 why = "reason " + IntegerToString(reason); break;
     }
   g_session.OnDeinit(why);
  }

void OnTimer(void)
  {
   g_session.OnTimer();
  }

void OnTick(void)
  {
   g_session.OnTick();
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   g_session.OnTradeTransaction(trans, request, result);
  }
//+------------------------------------------------------------------+
