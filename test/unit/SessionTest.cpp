//===- SessionTest.cpp - The runtime core and its C API -------------------===//
//
// kiln::rt::Session and kiln/runtime.h on a kernel-free program (copy and
// memset steps only), so every device can run it: "host" always runs;
// "cuda" is skipped (with the reason) where there is no driver or GPU.
// Expected values are computed independently from the program's layout.
//
//===----------------------------------------------------------------------===//
#include "kiln/Session.h"
#include "kiln/Artifact.h"
#include "kiln/SafeTensors.h"
#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <unistd.h>

using namespace kiln::rt;

namespace {


TensorDesc tensor(std::string name, DType dtype, std::vector<int64_t> shape, TensorRole role,
                  Region region, uint64_t offset) {
  TensorDesc t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.role = role;
  t.region = region;
  t.offset = offset;
  t.size = 64;
  return t;
}

/// state w f32[2,3], b f32[3], step i64, h f16[2], flag i1[3]; train_step: y = x, z = memset 1;
/// update: w = x.
Program sessionProgram() {
  Program p;
  p.model = "session-test";
  p.persistentBytes = 320;
  TensorDesc w = tensor("w", DType::f32, {2, 3}, TensorRole::param, Region::persistent, 0);
  TensorDesc b = tensor("b", DType::f32, {3}, TensorRole::param, Region::persistent, 64);
  TensorDesc step = tensor("step", DType::i64, {}, TensorRole::step, Region::persistent, 128);
  TensorDesc h = tensor("h", DType::f16, {2}, TensorRole::buffer, Region::persistent, 192);
  TensorDesc flag = tensor("flag", DType::i1, {3}, TensorRole::buffer, Region::persistent, 256);
  p.state = {{w}, {b}, {step}, {h}, {flag}};
  p.initialPersistent.resize(320);
  for (size_t i = 0; i < 320; ++i)
    p.initialPersistent[i] = uint8_t(i + 1);
  p.initialPersistent[256] = 1; // flag = {1, 0, 1}
  p.initialPersistent[257] = 0;
  p.initialPersistent[258] = 1;
  TensorDesc x = tensor("x", DType::f32, {2, 3}, TensorRole::input, Region::input, 0);
  FunctionDesc train;
  train.name = "train_step";
  train.tensors = {w,
                   b,
                   step,
                   x,
                   tensor("y", DType::f32, {2, 3}, TensorRole::output, Region::arena, 0),
                   tensor("z", DType::i32, {4}, TensorRole::output, Region::arena, 64)};
  train.args = {3, 0};
  train.results = {4, 5, 1};
  train.inputBytes = 64;
  train.arenaBytes = 128;
  Step copy;
  copy.kind = StepKind::copy;
  copy.label = "y = x";
  copy.dst = 4;
  copy.src = 3;
  Step memset;
  memset.kind = StepKind::memset;
  memset.label = "z = 1";
  memset.dst = 5;
  memset.value = 1;
  train.steps = {copy, memset};
  FunctionDesc update;
  update.name = "update";
  update.tensors = {w, x};
  update.args = {1};
  update.results = {0};
  update.inputBytes = 64;
  Step upd = copy;
  upd.label = "w = x";
  upd.dst = 0;
  upd.src = 1;
  update.steps = {upd};
  p.functions = {train, update};
  return p;
}

std::vector<float> initialFloats(size_t offset, size_t n) {
  std::vector<float> v(n);
  std::vector<uint8_t> bytes(n * 4);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = uint8_t(offset + i + 1);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string tempDir() {
  char dir[] = "/tmp/kiln-session-XXXXXX";
  return mkdtemp(dir) ? dir : "/tmp";
}

class SessionTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    Status s;
    s = Session::create(sessionProgram(), GetParam(), DeviceOptions{}, session);
    if (s.code() == Code::unsupported || s.code() == Code::no_device)
      GTEST_SKIP() << "device '" << GetParam() << "' unavailable: " << s.message();
    ASSERT_TRUE(s.isOk()) << s.message();
  }
  std::unique_ptr<Session> session;
};

} // namespace

TEST_P(SessionTest, InspectAndInitialParameters) {
  EXPECT_EQ(std::string(session->deviceName()), GetParam());
  uint32_t f;
  ASSERT_TRUE(session->findFunction("update", f).isOk());
  EXPECT_EQ(f, 1u);
  Status s = session->findFunction("nope", f);
  EXPECT_TRUE(
      contains(s.message(), "function 'nope' does not exist (functions: train_step, update)"))
      << s.message();
  const TensorDesc *t;
  ASSERT_TRUE(session->findTensor("train_step", "z", t).isOk());
  EXPECT_EQ(t->dtype, DType::i32);
  EXPECT_EQ(t->shape, std::vector<int64_t>{4});
  std::vector<float> w(6);
  ASSERT_TRUE(session->getParam("w", w.data(), 24).isOk());
  EXPECT_EQ(w, initialFloats(0, 6));
  std::vector<float> b(3);
  ASSERT_TRUE(session->getParam("b", b.data(), 12).isOk());
  EXPECT_EQ(b, initialFloats(64, 3));
  s = session->getParam("w", w.data(), 20);
  EXPECT_TRUE(contains(s.message(), "persistent tensor 'w': got 20 bytes, f32[2, 3] has 24"))
      << s.message();
  s = session->getParam("missing", w.data(), 24);
  EXPECT_TRUE(contains(s.message(), "persistent tensor 'missing' does not exist")) << s.message();
}

TEST_P(SessionTest, BindRunRead) {
  std::vector<float> x = {1.5f, -2, 3, 4.25f, 5, -6};
  Status s = session->getOutput("train_step", "y", x.data(), 24);
  EXPECT_TRUE(contains(s.message(), "function 'train_step' has not run yet")) << s.message();
  s = session->setInput("train_step", "x", x.data(), 28);
  EXPECT_TRUE(
      contains(s.message(), "function 'train_step' input 'x': got 28 bytes, f32[2, 3] has 24"))
      << s.message();
  s = session->setInput("train_step", "w", x.data(), 24);
  EXPECT_TRUE(contains(s.message(), "persistent region, not an input (use set_param)"))
      << s.message();
  ASSERT_TRUE(session->setInput("train_step", "x", x.data(), 24).isOk());
  ASSERT_TRUE(session->run("train_step").isOk());
  std::vector<float> y(6);
  ASSERT_TRUE(session->getOutput("train_step", "y", y.data(), 24).isOk());
  EXPECT_EQ(y, x);
  std::vector<int32_t> z(4);
  ASSERT_TRUE(session->getOutput("train_step", 1, z.data(), 16).isOk());
  EXPECT_EQ(z, std::vector<int32_t>(4, 0x01010101));
  std::vector<float> b(3);
  ASSERT_TRUE(session->getOutput("train_step", "b", b.data(), 12).isOk());
  EXPECT_EQ(b, initialFloats(64, 3));
  s = session->getOutput("train_step", 3, z.data(), 16);
  EXPECT_TRUE(contains(s.message(), "result 3 does not exist (3 results)")) << s.message();
  // update: w = x; then train_step's arena results are stale, its
  // persistent result is not.
  std::vector<float> x2 = {9, 8, 7, 6, 5, 4};
  ASSERT_TRUE(session->setInput("update", "x", x2.data(), 24).isOk());
  ASSERT_TRUE(session->run("update").isOk());
  std::vector<float> w(6);
  ASSERT_TRUE(session->getParam("w", w.data(), 24).isOk());
  EXPECT_EQ(w, x2);
  s = session->getOutput("train_step", "y", y.data(), 24);
  EXPECT_TRUE(contains(s.message(), "has not run since 'update' reused the arena")) << s.message();
  EXPECT_TRUE(session->getOutput("train_step", "b", b.data(), 12).isOk());
  ASSERT_TRUE(session->setParam("b", x2.data(), 12).isOk());
  ASSERT_TRUE(session->getParam("b", b.data(), 12).isOk());
  EXPECT_EQ(b, std::vector<float>(x2.begin(), x2.begin() + 3));
}

TEST_P(SessionTest, CheckpointRoundTripAndMismatches) {
  std::string dir = tempDir();
  std::string path = dir + "/ckpt.safetensors";
  std::vector<float> w0 = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(session->setParam("w", w0.data(), 24).isOk());
  Status s = session->saveCheckpoint(path);
  ASSERT_TRUE(s.isOk()) << s.message();
  // The file holds every persistent tensor, by name, with its dtype.
  kiln::safetensors::File file;
  std::string error;
  ASSERT_TRUE(kiln::safetensors::readFile(path, file, error)) << error;
  ASSERT_EQ(file.tensors.size(), 5u);
  ASSERT_NE(file.find("step"), nullptr);
  EXPECT_EQ(file.find("step")->dtype, kiln::safetensors::DType::I64);
  ASSERT_NE(file.find("h"), nullptr);
  EXPECT_EQ(file.find("h")->dtype, kiln::safetensors::DType::F16);
  EXPECT_EQ(file.find("h")->data, std::vector<uint8_t>({193, 194, 195, 196}));
  ASSERT_NE(file.find("flag"), nullptr);
  EXPECT_EQ(file.find("flag")->dtype, kiln::safetensors::DType::Bool);
  EXPECT_EQ(file.find("flag")->data, std::vector<uint8_t>({1, 0, 1}));
  EXPECT_EQ(file.find("w")->data.size(), 24u);
  EXPECT_EQ(file.metadata.at("kiln.model"), "session-test");

  std::vector<float> w1 = {0, 0, 0, 0, 0, 7};
  ASSERT_TRUE(session->setParam("w", w1.data(), 24).isOk());
  ASSERT_TRUE(session->loadCheckpoint(path).isOk());
  std::vector<float> w(6);
  ASSERT_TRUE(session->getParam("w", w.data(), 24).isOk());
  EXPECT_EQ(w, w0);

  // Mismatching files: rejected by name, nothing applied.
  ASSERT_TRUE(session->setParam("w", w1.data(), 24).isOk());
  auto expectRejected = [&](const std::function<void(kiln::safetensors::File &)> &mutate,
                            const std::string &needle) {
    kiln::safetensors::File bad = file;
    bad.metadata.erase("kiln.digest");
    mutate(bad);
    std::string bp = dir + "/bad.safetensors", e;
    ASSERT_TRUE(kiln::safetensors::writeFile(bp, bad, e)) << e;
    Status st = session->loadCheckpoint(bp);
    EXPECT_FALSE(st.isOk());
    EXPECT_TRUE(contains(st.message(), needle)) << st.message() << "\nmissing: " << needle;
    std::vector<float> now(6);
    ASSERT_TRUE(session->getParam("w", now.data(), 24).isOk());
    EXPECT_EQ(now, w1) << "a rejected checkpoint was partly applied";
    unlink(bp.c_str());
  };
  expectRejected(
      [](auto &f) {
        f.tensors[2].dtype = kiln::safetensors::DType::I32;
        f.tensors[2].data.resize(4);
      },
      "tensor 'step' has dtype I32, the artifact has I64");
  expectRejected(
      [](auto &f) {
        f.tensors[1].shape = {1, 3};
      },
      "tensor 'b' has shape [1, 3], the artifact has [3]");
  expectRejected([](auto &f) { f.tensors.erase(f.tensors.begin() + 1); }, "tensor 'b' is missing");
  expectRejected(
      [](auto &f) {
        f.tensors.push_back(f.tensors[1]);
        f.tensors.back().name = "extra";
      },
      "tensor 'extra' is not a persistent tensor");
  expectRejected([](auto &f) { f.metadata["kiln.model"] = "other"; },
                 "model 'other' does not match the artifact's 'session-test'");
  expectRejected(
      [&](auto &f) {
        f.metadata["kiln.digest"] = kiln::safetensors::contentDigest(f, "kiln.digest");
        f.tensors[0].data[0] ^= 1; // a bit flip after the digest was taken
      },
      "does not match its digest");
  s = session->loadCheckpoint(dir + "/none.safetensors");
  EXPECT_EQ(s.code(), Code::io_error);
  EXPECT_TRUE(contains(s.message(), "none.safetensors")) << s.message();
  unlink(path.c_str());
  rmdir(dir.c_str());
}

INSTANTIATE_TEST_SUITE_P(Devices, SessionTest, ::testing::Values("host", "cuda"),
                         [](const auto &info) { return info.param; });

//===----------------------------------------------------------------------===//
// The C API
//===----------------------------------------------------------------------===//

TEST(CApi, ErrorPaths) {
  kiln_runtime_t *rt = reinterpret_cast<kiln_runtime_t *>(1);
  EXPECT_EQ(kiln_load("/nonexistent/x.kart", "host", nullptr, &rt), KILN_IO_ERROR);
  EXPECT_EQ(rt, nullptr);
  EXPECT_TRUE(contains(kiln_last_error(), "/nonexistent/x.kart: cannot open")) << kiln_last_error();
  const char junk[] = "not an artifact at all";
  EXPECT_EQ(kiln_load_memory(junk, sizeof junk, "host", nullptr, &rt), KILN_INVALID_ARTIFACT);
  EXPECT_TRUE(contains(kiln_last_error(), "identifier")) << kiln_last_error();
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(writeArtifact(sessionProgram(), bytes).isOk());
  EXPECT_EQ(kiln_load_memory(bytes.data(), bytes.size(), "tpu", nullptr, &rt),
            KILN_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(kiln_last_error(), "device 'tpu' is unknown")) << kiln_last_error();
  EXPECT_EQ(kiln_load_memory(bytes.data(), bytes.size(), "host", nullptr, nullptr),
            KILN_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(kiln_last_error(), "out is NULL"));
  EXPECT_EQ(kiln_run(nullptr, "train_step"), KILN_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_function_count(nullptr), 0u);
  kiln_free(nullptr);
}

TEST(CApi, LastErrorIsPerThread) {
  kiln_runtime_t *rt;
  EXPECT_EQ(kiln_load("/nonexistent/main.kart", "host", nullptr, &rt), KILN_IO_ERROR);
  std::string other;
  std::thread t([&] {
    kiln_runtime_t *r;
    kiln_load("/nonexistent/thread.kart", "host", nullptr, &r);
    other = kiln_last_error();
  });
  t.join();
  EXPECT_TRUE(contains(other, "thread.kart")) << other;
  EXPECT_TRUE(contains(kiln_last_error(), "main.kart")) << kiln_last_error();
}

TEST(CApi, AutoDevice) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(writeArtifact(sessionProgram(), bytes).isOk());
  kiln_runtime_t *rt;
  kiln_status_t s = kiln_load_memory(bytes.data(), bytes.size(), "auto", nullptr, &rt);
  if (s != KILN_OK) {
    // Neither device in this build: both reasons are reported.
    EXPECT_TRUE(contains(kiln_last_error(), "cuda:")) << kiln_last_error();
    EXPECT_TRUE(contains(kiln_last_error(), "host:")) << kiln_last_error();
    GTEST_SKIP() << "no device: " << kiln_last_error();
  }
  std::string name = kiln_device_name(rt);
  EXPECT_TRUE(name == "host" || name == "cuda") << name;
  if (name == "host") {
    EXPECT_TRUE(contains(kiln_device_note(rt), "cuda unavailable")) << kiln_device_note(rt);
  }
  kiln_free(rt);
}

TEST(CApi, EndToEndOnHost) {
  std::string dir = tempDir();
  std::string path = dir + "/p.kart";
  ASSERT_TRUE(writeArtifactFile(sessionProgram(), path).isOk());
  kiln_options_t opts{};
  kiln_runtime_t *rt;
  kiln_status_t s = kiln_load(path.c_str(), "host", &opts, &rt);
  if (s == KILN_UNSUPPORTED || s == KILN_NO_DEVICE)
    GTEST_SKIP() << "host device unavailable: " << kiln_last_error();
  ASSERT_EQ(s, KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_function_count(rt), 2u);
  EXPECT_STREQ(kiln_function_name(rt, 1), "update");
  EXPECT_EQ(kiln_function_name(rt, 2), nullptr);
  kiln_dtype_t dt;
  size_t rank;
  int64_t shape[1];
  EXPECT_EQ(kiln_tensor_info(rt, "train_step", "x", &dt, &rank, shape, 1), KILN_INVALID_ARGUMENT);
  EXPECT_EQ(rank, 2u);
  EXPECT_TRUE(contains(kiln_last_error(), "rank 2, shape_capacity is 1"));
  int64_t shape2[2];
  ASSERT_EQ(kiln_tensor_info(rt, nullptr, "w", &dt, &rank, shape2, 2), KILN_OK);
  EXPECT_EQ(dt, KILN_F32);
  EXPECT_EQ(shape2[0], 2);
  EXPECT_EQ(shape2[1], 3);
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {};
  EXPECT_EQ(kiln_set_input(rt, "train_step", "x", x, 20), KILN_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(kiln_last_error(), "got 20 bytes, f32[2, 3] has 24"));
  ASSERT_EQ(kiln_set_input(rt, "train_step", "x", x, 24), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_run(rt, "train_step"), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_get_output(rt, "train_step", "y", y, 24), KILN_OK) << kiln_last_error();
  EXPECT_EQ(std::memcmp(x, y, 24), 0);
  std::string ckpt = dir + "/c.safetensors";
  ASSERT_EQ(kiln_save_checkpoint(rt, ckpt.c_str()), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_set_param(rt, "w", y, 24), KILN_OK);
  ASSERT_EQ(kiln_load_checkpoint(rt, ckpt.c_str()), KILN_OK) << kiln_last_error();
  float w[6];
  ASSERT_EQ(kiln_get_param(rt, "w", w, 24), KILN_OK);
  EXPECT_EQ(std::vector<float>(w, w + 6), initialFloats(0, 6));
  kiln_free(rt);
  unlink(ckpt.c_str());
  unlink(path.c_str());
  rmdir(dir.c_str());
}
