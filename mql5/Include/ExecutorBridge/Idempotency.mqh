//+------------------------------------------------------------------+
//| Idempotency.mqh: request id -> the OrderSendResult already sent. |
//|                                                                  |
//| A repeated order_send id is answered from here, never re-sent to |
//| the trade server (MT5_BRIDGE.md, "Idempotency"). Entries live    |
//| PROTO_IDEMPOTENCY_TTL_S (10 min) of UTC wall time and are saved  |
//| to MQL5\Files\ExecutorBridge\idempotency-<login>.bin after every |
//| put, so an EA restart (a new boot) still knows what it did.      |
//| Mirrors bridge/sim/events.py ReplyCache.                         |
//|                                                                  |
//| File: "EBIC" u32 version, u32 count, then per entry: u32 id      |
//| length, id bytes (UTF-8), i64 stored_at ms UTC, u32 data length, |
//| data (the msgpack `data` map of the reply). A file that does not |
//| parse is ignored (and replaced on the next put), never trusted.  |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_IDEMPOTENCY_MQH
#define EXECUTOR_BRIDGE_IDEMPOTENCY_MQH

#include "Protocol.mqh"

#define EB_IDEM_MAX_ENTRIES 10000
#define EB_IDEM_MAGIC       0x43494245   // "EBIC" little-endian
#define EB_IDEM_VERSION     1
#define EB_IDEM_MAX_ID      256
#define EB_IDEM_MAX_DATA    65536

struct EbCached
  {
   string id;
   long   stored_at_ms;
   uchar  data[];
  };

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
      if(StringLen(id) == 0 || StringLen(id) > EB_IDEM_MAX_ID || ArraySize(data) > EB_IDEM_MAX_DATA)
         return;
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
      string tmp = m_path + ".tmp";
      int h = FileOpen(tmp, FILE_WRITE | FILE_BIN);
      if(h == INVALID_HANDLE)
        {
         Print("ExecutorBridge: cannot write ", tmp, " (error ", GetLastError(), "); idempotency lives in memory only");
         return false;
        }
      FileWriteInteger(h, EB_IDEM_MAGIC, INT_VALUE);
      FileWriteInteger(h, EB_IDEM_VERSION, INT_VALUE);
      FileWriteInteger(h, m_count, INT_VALUE);
      uchar id[];
      for(int i = 0; i < m_count; i++)
        {
         int n = StringToCharArray(m_entries[i].id, id, 0, -1, CP_UTF8) - 1;
         FileWriteInteger(h, n, INT_VALUE);
         if(n > 0)
            FileWriteArray(h, id, 0, n);
         FileWriteLong(h, m_entries[i].stored_at_ms);
         FileWriteInteger(h, ArraySize(m_entries[i].data), INT_VALUE);
         if(ArraySize(m_entries[i].data) > 0)
            FileWriteArray(h, m_entries[i].data);
        }
      FileClose(h);
      // Replace in one step: a crash mid-write leaves the previous file whole.
      return FileMove(tmp, 0, m_path, FILE_REWRITE);
     }

   void Load(void)
     {
      if(!FileIsExist(m_path))
         return;
      int h = FileOpen(m_path, FILE_READ | FILE_BIN);
      if(h == INVALID_HANDLE)
         return;
      bool ok = FileReadInteger(h, INT_VALUE) == EB_IDEM_MAGIC && FileReadInteger(h, INT_VALUE) == EB_IDEM_VERSION;
      int count = ok ? FileReadInteger(h, INT_VALUE) : 0;
      ok = ok && count >= 0 && count <= EB_IDEM_MAX_ENTRIES;
      if(ok)
         ArrayResize(m_entries, count);
      uchar id[];
      for(int i = 0; ok && i < count; i++)
        {
         int n = FileReadInteger(h, INT_VALUE);
         ok = n > 0 && n <= EB_IDEM_MAX_ID && FileReadArray(h, id, 0, n) == n;
         if(!ok)
            break;
         m_entries[i].id = CharArrayToString(id, 0, n, CP_UTF8);
         m_entries[i].stored_at_ms = FileReadLong(h);
         int size = FileReadInteger(h, INT_VALUE);
         ok = size >= 0 && size <= EB_IDEM_MAX_DATA;
         if(ok && size > 0)
           {
            ArrayResize(m_entries[i].data, size);
            ok = FileReadArray(h, m_entries[i].data, 0, size) == size;
           }
         if(ok)
            m_count = i + 1;
        }
      FileClose(h);
      if(!ok)
        {
         m_count = 0;
         Print("ExecutorBridge: ", m_path, " is damaged; starting with an empty idempotency cache");
        }
     }
  };

#endif // EXECUTOR_BRIDGE_IDEMPOTENCY_MQH
