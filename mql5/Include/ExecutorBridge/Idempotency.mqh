//+------------------------------------------------------------------+
//| Idempotency.mqh: request id -> the OrderSendResult already sent. |
//|                                                                  |
//| A repeated order_send id is answered from here, never re-sent to |
//| the trade server (MT5_BRIDGE.md, "Idempotency"). Entries live    |
//| PROTO_IDEMPOTENCY_TTL_S (10 min) of UTC wall time and are saved  |
//| to MQL5\Files\ExecutorBridge\idempotency-<login>.bin after every |
//| put, so an EA restart (a new boot) still knows what it did.      |
//| Mirrors bridge/sim/events.py ReplyCache. The file's bytes are    |
//| IdempotencyFile.mqh's (tested under g++); this file does the     |
//| memory side and the file calls. A file that does not decode is   |
//| ignored (and replaced on the next put), never trusted; a save    |
//| that fails says so in the Experts tab.                           |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_IDEMPOTENCY_MQH
#define EXECUTOR_BRIDGE_IDEMPOTENCY_MQH

#include "Protocol.mqh"
#include "IdempotencyFile.mqh"

class CIdempotencyCache
  {
private:
   EbCached m_entries[];   // oldest first
   int      m_count;
   string   m_path;

   int IndexOf(const string id) const
     {
      for(int i = m_count - 1; i >= 0; i--)  // recent ids are the likely repeats
         if(m_entries[i].id == id)
            return i;
      return -1;
     }

   void RemoveFirst(const int n)
     {
      if(n <= 0)
         return;
      for(int i = n; i < m_count; i++)
        {
         m_entries[i - n].id = m_entries[i].id;
         m_entries[i - n].stored_at_ms = m_entries[i].stored_at_ms;
         ArrayCopy(m_entries[i - n].data, m_entries[i].data);
         ArrayResize(m_entries[i - n].data, ArraySize(m_entries[i].data));
        }
      m_count -= n;
     }

public:
                     CIdempotencyCache(void) { m_count = 0; m_path = ""; }

   void Init(const long login)
     {
      m_path = "ExecutorBridge\\idempotency-" + IntegerToString(login) + ".bin";
      m_count = 0;
      ArrayResize(m_entries, 0);
      Load();
     }

   int Count(void) const { return m_count; }

   // The cached `data` bytes of `id` if stored less than the TTL ago.
   bool Get(const string id, const long now_ms, uchar &data[]) const
     {
      int i = IndexOf(id);
      if(i < 0 || now_ms - m_entries[i].stored_at_ms > (long)PROTO_IDEMPOTENCY_TTL_MS)
         return false;
      ArrayResize(data, ArraySize(m_entries[i].data));
      ArrayCopy(data, m_entries[i].data);
      return true;
     }

   void Put(const string id, const uchar &data[], const long now_ms)
     {
      if(!EbIdemStorable(id, ArraySize(data)))
         return;  // an id of more than EB_IDEM_MAX_ID UTF-8 bytes: answered, but not remembered
      Prune(now_ms);
      int i = IndexOf(id);
      if(i < 0)
        {
         if(m_count >= EB_IDEM_MAX_ENTRIES)
            RemoveFirst(1);
         if(ArraySize(m_entries) <= m_count)
            ArrayResize(m_entries, m_count + 1, 64);
         i = m_count;
         m_count++;
        }
      m_entries[i].id = id;
      m_entries[i].stored_at_ms = now_ms;
      ArrayResize(m_entries[i].data, ArraySize(data));
      ArrayCopy(m_entries[i].data, data);
      Save();
     }

   void Prune(const long now_ms)
     {
      int expired = 0;
      while(expired < m_count && now_ms - m_entries[expired].stored_at_ms > (long)PROTO_IDEMPOTENCY_TTL_MS)
         expired++;
      RemoveFirst(expired);
     }

   bool Save(void)
     {
      uchar bytes[];
      int size = EbIdemEncode(m_entries, m_count, bytes);
      string tmp = m_path + ".tmp";
      int h = FileOpen(tmp, FILE_WRITE | FILE_BIN);
      if(h == INVALID_HANDLE)
        {
         Print("ExecutorBridge: cannot write ", tmp, " (error ", GetLastError(), "); idempotency lives in memory only");
         return false;
        }
      uint written = FileWriteArray(h, bytes, 0, size);
      FileClose(h);
      if((int)written != size)
        {
         Print("ExecutorBridge: wrote ", written, " of ", size, " bytes to ", tmp, " (error ", GetLastError(),
               "); ", m_path, " keeps the previous ids");
         return false;
        }
      // Replace in one step: a crash mid-write leaves the previous file whole.
      if(!FileMove(tmp, 0, m_path, FILE_REWRITE))
        {
         Print("ExecutorBridge: cannot replace ", m_path, " (error ", GetLastError(), "); an EA restart would ",
               "forget the order_send ids of the last ", PROTO_IDEMPOTENCY_TTL_MS / 60000, " min");
         return false;
        }
      return true;
     }

   void Load(void)
     {
      if(!FileIsExist(m_path))
         return;
      int h = FileOpen(m_path, FILE_READ | FILE_BIN);
      if(h == INVALID_HANDLE)
        {
         Print("ExecutorBridge: cannot read ", m_path, " (error ", GetLastError(), "); starting with an empty idempotency cache");
         return;
        }
      ulong size = FileSize(h);
      uchar bytes[];
      int got = 0;
      if(size <= EB_IDEM_MAX_FILE && ArrayResize(bytes, (int)size) == (int)size)
         got = (int)FileReadArray(h, bytes, 0, (int)size);
      FileClose(h);
      string error = "";
      int count = (ulong)got == size ? EbIdemDecode(bytes, got, m_entries, error) : -1;
      if(count < 0)
        {
         m_count = 0;
         ArrayResize(m_entries, 0);
         Print("ExecutorBridge: ", m_path, " is damaged (", error == "" ? "unreadable" : error,
               "); starting with an empty idempotency cache");
         return;
        }
      m_count = count;
     }
  };

#endif // EXECUTOR_BRIDGE_IDEMPOTENCY_MQH
