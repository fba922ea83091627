// mql5_compat.h: just enough of MQL5 for g++ to compile the EA's codec unchanged.
//
// Owns the emulation of the MQL5 built-ins that mql5/Include/ExecutorBridge/Msgpack.mqh and
// Protocol.mqh use, with MQL5's semantics where they matter to the codec:
//  * integer types of MQL5's widths (long/ulong 64-bit, int 32-bit, uchar 8-bit);
//  * `string` is UTF-8 text (MQL5 keeps UTF-16, but the codec only meets strings through
//    StringToCharArray/CharArrayToString with CP_UTF8, which convert at the boundary);
//  * dynamic arrays whose out-of-range access stops the program, as MQL5's "array out of
//    range" critical error stops the EA: a codec bug on garbage input is a crash here too;
//  * StringToCharArray copies the terminating NUL and CharArrayToString stops at a NUL,
//    as in MQL5.
// Dynamic arrays go through the MP_ARRAY* macros, because C++ has no `T &a[]` syntax.
#ifndef MQL5_COMPAT_H
#define MQL5_COMPAT_H

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static_assert(sizeof(long) == 8, "MQL5's long is 64-bit: build on an LP64 platform");

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef std::string string;

#define CP_ACP 0
#define CP_UTF8 65001
#define WHOLE_ARRAY -1

template <class T>
class MqlArray {
 public:
  std::vector<T> items;

  T &operator[](int i) { return items[check(i)]; }
  const T &operator[](int i) const { return items[check(i)]; }

 private:
  size_t check(int i) const {
    if (i < 0 || static_cast<size_t>(i) >= items.size()) {
      std::fprintf(stderr, "array out of range: index %d, size %zu\n", i, items.size());
      std::abort();
    }
    return static_cast<size_t>(i);
  }
};

#define MP_ARRAY(T, name) MqlArray<T> name
#define MP_ARRAY_REF(T, name) MqlArray<T> &name
#define MP_ARRAY_CREF(T, name) const MqlArray<T> &name

template <class T>
int ArraySize(const MqlArray<T> &a) {
  return static_cast<int>(a.items.size());
}

template <class T>
int ArrayResize(MqlArray<T> &a, int new_size, int reserve = 0) {
  if (new_size < 0) return -1;
  if (reserve > 0) a.items.reserve(static_cast<size_t>(new_size) + static_cast<size_t>(reserve));
  a.items.resize(static_cast<size_t>(new_size));
  return new_size;
}

template <class T>
void ArrayFree(MqlArray<T> &a) {
  a.items.clear();
  a.items.shrink_to_fit();
}

// MQL5: copies `count` elements (WHOLE_ARRAY = to the end), growing a dynamic `dst`.
template <class T>
int ArrayCopy(MqlArray<T> &dst, const MqlArray<T> &src, int dst_start = 0, int src_start = 0,
              int count = WHOLE_ARRAY) {
  int available = ArraySize(src) - src_start;
  if (src_start < 0 || dst_start < 0 || available < 0) return 0;
  if (count < 0 || count > available) count = available;
  if (ArraySize(dst) < dst_start + count) ArrayResize(dst, dst_start + count);
  for (int i = 0; i < count; i++) dst.items[dst_start + i] = src.items[src_start + i];
  return count;
}

// MQL5: copies the text and its terminating NUL; returns the number of elements copied.
inline int StringToCharArray(const string &text, MqlArray<uchar> &array, int start = 0, int count = -1,
                             uint codepage = CP_ACP) {
  (void)codepage;  // our strings are UTF-8 already
  int total = static_cast<int>(text.size()) + 1;
  if (count < 0 || count > total) count = total;
  if (ArraySize(array) < start + count) ArrayResize(array, start + count);
  for (int i = 0; i < count; i++)
    array.items[start + i] = i < static_cast<int>(text.size()) ? static_cast<uchar>(text[i]) : 0;
  return count;
}

// MQL5: `count` bytes from `start` (-1 = to the end), stopping at a NUL.
inline string CharArrayToString(const MqlArray<uchar> &array, int start = 0, int count = -1,
                                uint codepage = CP_ACP) {
  (void)codepage;
  int size = ArraySize(array);
  if (start < 0 || start > size) return string();
  if (count < 0 || start + count > size) count = size - start;
  string out;
  for (int i = 0; i < count; i++) {
    uchar c = array.items[start + i];
    if (c == 0) break;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

inline string IntegerToString(long number, int str_len = 0, ushort fill_symbol = ' ') {
  string text = std::to_string(number);
  while (static_cast<int>(text.size()) < str_len) text.insert(text.begin(), static_cast<char>(fill_symbol));
  return text;
}

inline int StringLen(const string &text) { return static_cast<int>(text.size()); }

#endif  // MQL5_COMPAT_H
