// RUN: kiln-translate --kiln-to-cuda %s | FileCheck %s
// RUN: kiln-translate --kiln-to-cuda %s -o %t.cu && kiln-translate --kiln-to-cuda %s | diff - %t.cu

// The kernel of each fusion kind: a loop fusion is a grid-stride loop with
// the broadcast folded into its index arithmetic; a reduction is one block
// per output with a block reduction; a softmax composite is one block per
// row with two row statistics. Names are content hashes.

// The 80 elements run as 20 float4 iterations: %a (read at the loop's own
// index) is one float4 load, the broadcast %b scalar loads, the result one
// float4 store.
// CHECK-LABEL: // fusion @f #0 loop -> kiln_loop_{{[0-9a-f]+}} grid 1 block 32
// CHECK: extern "C" __global__ void __launch_bounds__(32) [[LOOP:kiln_loop_[0-9a-f]+]](const float* in0, const float* in1, float* out0)
// CHECK: for (long long v_4 = (long long)blockIdx.x * blockDim.x + threadIdx.x; v_4 < 20LL; v_4 += (long long)gridDim.x * blockDim.x)
// CHECK: const float4 [[Q:q[0-9]+]] = reinterpret_cast<const float4*>(in0)[v_4];
// CHECK: = [[Q]].x;
// CHECK: in1[(long long)([[COL:i[0-9]+]])]
// CHECK: kiln_dev::add(
// CHECK: kiln_dev::relu(
// CHECK: = [[Q]].w;
// CHECK: reinterpret_cast<float4*>(out0)[v_4] =
// CHECK: #ifdef KILN_HOST_SIMT
// CHECK-NEXT: extern "C" void [[LOOP]]_host(void **args) {
// CHECK-NEXT: [[LOOP]](*(const float**)args[0], *(const float**)args[1], *(float**)args[2]);

// CHECK-LABEL: // fusion @f #1 reduction -> kiln_reduction_{{[0-9a-f]+}} grid 8 block 32
// CHECK: __shared__ float [[S:s[0-9]+]][32];
// CHECK: for (long long o = blockIdx.x; o < 8LL; o += gridDim.x)
// CHECK: for (long long r = threadIdx.x; r < 10LL; r += blockDim.x)
// CHECK: kiln_dev::SumOp<float>()(
// CHECK: kiln_dev::block_reduce({{.*}}, kiln_dev::SumOp<float>(), (0.0f), [[S]]);
// CHECK: if (threadIdx.x == 0)

// CHECK-LABEL: // fusion @f #2 composite -> kiln_composite_{{[0-9a-f]+}} grid 8 block 32
// CHECK: for (long long row = blockIdx.x; row < 8LL; row += gridDim.x)
// CHECK: kiln_dev::MaxOp<float>()(
// CHECK: kiln_dev::block_reduce({{.*}}MaxOp
// CHECK: kiln_dev::exp(
// CHECK: kiln_dev::block_reduce({{.*}}SumOp

// A second, identical loop fusion gets the same name.
// CHECK: // fusion @f #3 loop -> [[LOOP]] grid 1 block 32

// An odd element count keeps the scalar grid-stride loop.
// CHECK: // fusion @f #4 loop -> kiln_loop_{{[0-9a-f]+}} grid 1 block 32
// CHECK: for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < 7LL; i += (long long)gridDim.x * blockDim.x)

func.func @f(%a: tensor<8x10xf32>, %b: tensor<10xf32>, %c: tensor<7xf32>) -> (tensor<8x10xf32>, tensor<8xf32>, tensor<8x10xf32>, tensor<8x10xf32>, tensor<7xf32>) {
  %0 = kiln.fusion loop (%a, %b) : (tensor<8x10xf32>, tensor<10xf32>) -> tensor<8x10xf32> {
  ^bb0(%x: tensor<8x10xf32>, %y: tensor<10xf32>):
    %1 = kiln.broadcast %y, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
    %2 = kiln.add %x, %1 : tensor<8x10xf32>
    %3 = kiln.relu %2 : tensor<8x10xf32>
    kiln.yield %3 : tensor<8x10xf32>
  }
  %4 = kiln.fusion reduction (%0) : (tensor<8x10xf32>) -> tensor<8xf32> {
  ^bb0(%x: tensor<8x10xf32>):
    %5 = kiln.reduce sum %x, dims = [1] : tensor<8x10xf32>
    kiln.yield %5 : tensor<8xf32>
  }
  %6 = kiln.fusion composite (%0) : (tensor<8x10xf32>) -> tensor<8x10xf32> {
  ^bb0(%x: tensor<8x10xf32>):
    %7 = kiln.softmax %x, dim = 1 : tensor<8x10xf32>
    kiln.yield %7 : tensor<8x10xf32>
  }
  %8 = kiln.fusion loop (%a, %b) : (tensor<8x10xf32>, tensor<10xf32>) -> tensor<8x10xf32> {
  ^bb0(%x: tensor<8x10xf32>, %y: tensor<10xf32>):
    %9 = kiln.broadcast %y, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
    %10 = kiln.add %x, %9 : tensor<8x10xf32>
    %11 = kiln.relu %10 : tensor<8x10xf32>
    kiln.yield %11 : tensor<8x10xf32>
  }
  %12 = kiln.fusion loop (%c) : (tensor<7xf32>) -> tensor<7xf32> {
  ^bb0(%x: tensor<7xf32>):
    %13 = kiln.exp %x : tensor<7xf32>
    kiln.yield %13 : tensor<7xf32>
  }
  return %0, %4, %6, %8, %12 : tensor<8x10xf32>, tensor<8xf32>, tensor<8x10xf32>, tensor<8x10xf32>, tensor<7xf32>
}
