//===- ReferenceTensor.h - Host tensors of the reference interpreter -*- C++ -*-===//
//
// Plain C++17, no MLIR/LLVM dependency: the kernels in ReferenceKernels.h and
// this tensor type can be linked by anything (tests, the host runtime).
//
// Storage: floating-point tensors keep their elements as double, integer and
// boolean tensors as int64_t (so i64 is exact). The declared element type is a
// tag; whether float elements are rounded to it is decided by the Precision
// the interpreter runs in (see roundToType / Tensor::roundToDeclaredType).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_REFERENCETENSOR_H
#define KILN_IR_REFERENCETENSOR_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::ref {

/// Element types of kiln tensors.
enum class ElemType { F16, BF16, F32, F64, I1, I32, I64 };

/// How float results are stored.
enum class Precision {
  /// Every float is computed and stored in double whatever its declared
  /// width: the oracle for finite-difference gradient checks.
  F64,
  /// Every op computes in double and rounds each float result to its declared
  /// type (round to nearest even). For + - * / and sqrt, computing in double
  /// and rounding once to f32 gives the correctly rounded f32 result (double
  /// has more than 2 * 24 + 2 significand bits, so the double rounding is
  /// innocuous); f16/bf16 likewise.
  Native,
};

bool isFloatType(ElemType t);
/// Bytes of one element in the raw little-endian layout (i1: one byte).
int64_t byteWidth(ElemType t);
/// "f16", "bf16", "f32", "f64", "i1", "i32", "i64".
const char *typeName(ElemType t);

/// IEEE binary16 / bfloat16 conversions, correctly rounded (nearest, ties to
/// even) directly from double (no intermediate float, hence no double
/// rounding). Overflow gives infinity, tiny values round to subnormals or
/// (signed) zero, NaN stays a quiet NaN with its sign and top payload bits.
uint16_t doubleToHalfBits(double x);
double halfBitsToDouble(uint16_t bits);
uint16_t doubleToBF16Bits(double x);
double bf16BitsToDouble(uint16_t bits);

/// Rounds `x` to the nearest value of float type `t` (identity for f64).
double roundToType(double x, ElemType t);

/// Wraps an integer to the declared integer type: i32 keeps the low 32 bits
/// (two's complement), i1 becomes x != 0, i64 is unchanged.
int64_t wrapToType(int64_t x, ElemType t);

/// Number of elements of a shape (1 for rank 0).
int64_t numElementsOf(const std::vector<int64_t> &shape);
/// Product of the dimensions [begin, end) of a shape (1 if empty): the
/// outer/inner extents around an axis.
int64_t productOf(const std::vector<int64_t> &shape, size_t begin, size_t end);
/// Calls f(base, stride, length) for every 1-D line of `shape` along `dim`
/// (row-major flat offsets): the loop of every kernel that works per line.
template <typename F>
void forEachLine(const std::vector<int64_t> &shape, int64_t dim, F f) {
  const int64_t outer = productOf(shape, 0, dim), d = shape[dim],
                inner = productOf(shape, dim + 1, shape.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in)
      f(o * d * inner + in, inner, d);
}
/// Row-major strides of a shape.
std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape);
/// Prints a shape as "[2, 3]".
std::string shapeToString(const std::vector<int64_t> &shape);

/// A dense row-major host tensor.
class Tensor {
public:
  /// A 0-d f32 zero (a placeholder to assign to).
  Tensor() : floats_(1, 0.0) {}
  /// A zero-filled tensor.
  Tensor(ElemType type, std::vector<int64_t> shape);

  /// Float tensor from values (rounded to `type` only by roundToDeclaredType).
  static Tensor fromDoubles(ElemType type, std::vector<int64_t> shape,
                            std::vector<double> values);
  /// Integer/bool tensor from values (wrapped to the declared type).
  static Tensor fromInts(ElemType type, std::vector<int64_t> shape,
                         std::vector<int64_t> values);
  /// From a raw little-endian buffer holding numElements values of `type`
  /// (f16/bf16 as their 16-bit patterns, i1 as one byte each, nonzero = true).
  static Tensor fromRaw(ElemType type, std::vector<int64_t> shape,
                        const void *data);
  /// Writes numElements * byteWidth(type) bytes, little-endian, rounding
  /// float values to the declared type.
  void toRaw(void *data) const;

  ElemType type() const { return type_; }
  bool isFloat() const { return isFloatType(type_); }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i]; }
  int64_t numElements() const { return numElementsOf(shape_); }

  /// Element `i` (row-major flat index) as a double (integers converted).
  double getDouble(int64_t i) const {
    return isFloat() ? floats_[i] : static_cast<double>(ints_[i]);
  }
  /// Element `i` as an integer (floats truncated toward zero, saturating,
  /// NaN -> 0).
  int64_t getInt(int64_t i) const;
  /// Stores `v` (floats) or its truncation (integers, wrapped to the type).
  void setDouble(int64_t i, double v);
  /// Stores `v` (integers wrapped to the declared type; floats converted).
  void setInt(int64_t i, int64_t v);

  /// Direct storage: valid for float tensors / integer-and-bool tensors.
  std::vector<double> &floats() { return floats_; }
  const std::vector<double> &floats() const { return floats_; }
  std::vector<int64_t> &ints() { return ints_; }
  const std::vector<int64_t> &ints() const { return ints_; }

  /// Same elements, new shape (same element count: caller checks).
  Tensor reshaped(std::vector<int64_t> shape) const;

  /// Rounds every float element to the declared type (f16/bf16/f32).
  void roundToDeclaredType();
  /// Applies `p`: rounds under Precision::Native, nothing under F64.
  void applyPrecision(Precision p) {
    if (p == Precision::Native)
      roundToDeclaredType();
  }

  /// "tensor<2x3xf32> [1, 2, 3, 4, 5, 6]" (elements elided past `limit`).
  std::string toString(int64_t limit = 32) const;

private:
  ElemType type_ = ElemType::F32;
  std::vector<int64_t> shape_;
  std::vector<double> floats_;
  std::vector<int64_t> ints_;
};

} // namespace kiln::ref

#endif // KILN_IR_REFERENCETENSOR_H
