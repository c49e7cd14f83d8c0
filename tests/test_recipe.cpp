// The recipe's field table: parsing from text, validation, typed checkpoint attributes (version 2), reading
// version-1 checkpoints (text attributes), the "checkpoint from another configuration" check, and checkpoints
// whose momentum holds NaN.
#include <catch2/catch.hpp>
#include <hdf5.h>

#include <stfpm/stfpm.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/backend.h"
#include "cpu/cpu_backend.h"
#include "io/hdf5_io.h"
#include "model/checkpoint.h"
#include "model/recipe.h"
#include "test_util.h"

using namespace stfpm;

TEST_CASE("recipe: fields parse from text and print back", "[recipe]") {
  Recipe r;
  set_recipe_field(r, "layers", {"2,3"});
  CHECK(r.layers == std::vector<int>{2, 3});
  set_recipe_field(r, "alphas", {"0.5", "2"});  // separate tokens, as argparse's nargs='+'
  CHECK(r.alphas == std::vector<float>{0.5f, 2.0f});
  set_recipe_field(r, "weight_decay", {"5e-4"});  // an alias of wd
  CHECK(r.weight_decay == 5e-4f);
  set_recipe_field(r, "seed", {"18446744073709551615"});
  CHECK(r.seed == 18446744073709551615ull);
  set_recipe_field(r, "mean", {"0.5,0.5,0.5"});
  CHECK(recipe_field_text(r, "mean") == "0.5,0.5,0.5");
  CHECK(recipe_field_text(r, "lr") == "0.4");
  CHECK(recipe_field_text(r, "wd") == "0.0005");

  const Recipe before = r;
  CHECK_THROWS_WITH(set_recipe_field(r, "epochs", {"three"}), "--epochs: 'three' is not a valid number");
  CHECK_THROWS_WITH(set_recipe_field(r, "batch_size", {"0"}), "--batch_size must be at least 1, got 0");
  CHECK_THROWS_WITH(set_recipe_field(r, "std", {"1,2"}), "--std needs 3 values (R G B), got 2");
  CHECK_THROWS_WITH(set_recipe_field(r, "seed", {"-1"}), "--seed: '-1' is not a valid number");
  CHECK_THROWS_AS(set_recipe_field(r, "nonsense", {"1"}), Error);
  CHECK(r.layers == before.layers);  // a failed set changes nothing
  CHECK(r.epochs == before.epochs);

  size_t fixed = 0;
  for (const RecipeField& f : recipe_fields()) fixed += f.fixed_by_checkpoint;
  CHECK(fixed == 4);  // size, layers, mean, std
  CHECK(recipe_fields().size() == 11);
}

TEST_CASE("recipe: validation names the bad field", "[recipe][bad-input]") {
  auto fails = [](void (*change)(Recipe&), const std::string& message) {
    Recipe r;
    change(r);
    CHECK_THROWS_WITH(validate(r), Catch::Contains(message));
  };
  validate(Recipe{});
  fails([](Recipe& r) { r.layers = {1, 1}; }, "--layers: 1 is not a distinct layer");
  fails([](Recipe& r) { r.layers = {4}; }, "--layers: 4 is not a distinct layer");
  fails([](Recipe& r) { r.layers.clear(); }, "--layers: at least one");
  fails([](Recipe& r) { r.alphas = {1, -1, 1}; }, "--alphas: weights must be finite and >= 0");
  fails([](Recipe& r) { r.std[1] = 0; }, "--std values must be positive");
  fails([](Recipe& r) { r.lr = 0; }, "--lr must be a positive number");
  fails([](Recipe& r) { r.momentum = 1; }, "--momentum must be in [0, 1)");
  fails([](Recipe& r) { r.weight_decay = -1; }, "--wd must be >= 0");
  fails([](Recipe& r) { r.size = 0; }, "--size must be at least 1");
  // Every used level keeps at least 2x2 pixels: layer3 is about size / 16.
  fails([](Recipe& r) { r.size = 8; }, "--size 8: layer3 would be 1x1; every used pyramid level must be at least "
                                       "2x2, so --size must be at least 17 with layer3");
  fails([](Recipe& r) { r.size = 16; }, "at least 17");
  fails([](Recipe& r) { r.size = 4, r.layers = {1}, r.alphas = {1}; }, "at least 5 with layer1");
  Recipe small;
  small.size = 17;
  validate(small);
  small.size = 5, small.layers = {1}, small.alphas = {1};
  validate(small);
  // Normalized pixels must stay finite floats.
  fails([](Recipe& r) { r.std = {1e-40f, 0.2f, 0.2f}; }, "normalized pixels would overflow a float");
  fails([](Recipe& r) { r.mean[0] = INFINITY; }, "--mean values must be finite");
}

TEST_CASE("recipe: typed checkpoint attributes round-trip, version 1 text attributes still read", "[recipe]") {
  const test::TempDir tmp("recipe");
  Recipe r;
  r.size = 96;
  r.layers = {1, 3};
  r.alphas = {0.25f, 4.0f};
  r.mean = {0.1f, 0.2f, 0.3f};
  r.lr = 0.123f;
  r.seed = 1ull << 63;
  {
    H5Writer out(tmp.file("v2.h5"));
    write_recipe(out, r);
    out.commit();
  }
  const H5Reader v2(tmp.file("v2.h5"));
  CHECK_FALSE(v2.attr_is_string("layers"));  // typed, not text
  CHECK_FALSE(v2.attr_is_string("seed"));
  CHECK(v2.attr_ints("layers") == std::vector<int64_t>{1, 3});
  const Recipe back = read_recipe(v2);
  for (const RecipeField& f : recipe_fields()) CHECK(recipe_field_text(back, f.name) == recipe_field_text(r, f.name));
  require_same("x.h5", r, back, resume_fields());

  // A version-1 header, as the first release wrote it: lists and the seed as text.
  {
    H5Writer out(tmp.file("v1.h5"));
    out.set_attr("format", std::string("stfpm-student-checkpoint-1"));
    out.set_attr("epoch", int64_t(7));
    out.set_attr("steps", int64_t(14));
    out.set_attr("epochs", int64_t(10));
    out.set_attr("batch_size", int64_t(16));
    out.set_attr("size", int64_t(128));
    out.set_attr("seed", std::string("42"));
    out.set_attr("layers", std::string("2,3"));
    out.set_attr("alphas", std::string("1,1,1"));  // version 1 kept --alphas' default with --layers 2,3
    out.set_attr("mean", std::string("0.485,0.456,0.406"));
    out.set_attr("std", std::string("0.229,0.224,0.225"));
    out.set_attr("lr", double(0.4f));
    out.set_attr("momentum", double(0.9f));
    out.set_attr("weight_decay", double(1e-4f));
    out.set_attr("category", std::string("bottle"));
    out.set_attr("teacher", std::string("t.h5"));
    out.commit();
  }
  const CheckpointInfo v1 = read_checkpoint_info(tmp.file("v1.h5"));
  CHECK(v1.version == 1);
  CHECK(v1.epoch == 7);
  CHECK(v1.steps == 14);
  CHECK(v1.category == "bottle");
  CHECK(v1.recipe.size == 128);
  CHECK(v1.recipe.layers == std::vector<int>{2, 3});
  CHECK(v1.recipe.alphas == std::vector<float>{1.0f, 1.0f});  // what that run trained with
  validate(v1.recipe);
  CHECK(v1.recipe.seed == 42);
  CHECK(v1.recipe.batch_size == 16);
  CHECK(v1.recipe.epochs == 10);
  CHECK(v1.recipe.lr == 0.4f);
  CHECK(v1.recipe.mean == Recipe{}.mean);

  // An unknown version is named.
  {
    H5Writer out(tmp.file("v9.h5"));
    out.set_attr("format", std::string("stfpm-student-checkpoint-9"));
    out.commit();
  }
  CHECK_THROWS_WITH(read_checkpoint_info(tmp.file("v9.h5")), Catch::Contains("format version 9 is not known"));

  // Stored numbers that do not fit the field are refused (converting them is undefined; found by fuzz_hdf5).
  auto with = [&](const std::string& name, auto change) {
    const std::string path = tmp.file(name);
    H5Writer out(path);
    out.set_attr("format", std::string("stfpm-student-checkpoint-2"));
    write_recipe(out, Recipe{});
    change(out);
    out.commit();
    return path;
  };
  CHECK_THROWS_WITH(read_checkpoint_info(with("layers.h5", [](H5Writer& o) {
                      o.set_attr("layers", std::vector<double>{1, 4.3e9});
                    })),
                    Catch::Contains("layers.h5: attribute 'layers' holds 4300000000.000000, out of range"));
  CHECK_THROWS_WITH(read_checkpoint_info(with("half.h5", [](H5Writer& o) {
                      o.set_attr("layers", std::vector<double>{1.5});
                    })),
                    Catch::Contains("attribute 'layers' holds 1.500000, out of range"));
  CHECK_THROWS_WITH(read_checkpoint_info(with("lr.h5", [](H5Writer& o) { o.set_attr("lr", 1e300); })),
                    Catch::Contains("attribute 'lr' holds"));
  CHECK_THROWS_WITH(read_checkpoint_info(with("size.h5", [](H5Writer& o) { o.set_attr("size", int64_t(1) << 40); })),
                    Catch::Contains("attribute 'size' holds"));
}

TEST_CASE("recipe: a checkpoint from another configuration names the field and both values", "[recipe]") {
  Recipe wanted, saved;
  saved.size = 64;
  wanted.size = 96;
  CHECK_THROWS_WITH(require_same("m/student.h5", wanted, saved, {"layers", "size"}),
                    "m/student.h5: checkpoint from another configuration: --size is 96 here but 64 in the checkpoint");
  require_same("m/student.h5", wanted, saved, {"layers", "mean"});  // fields not named are not compared
  wanted = saved;
  wanted.lr = 0.1f;
  CHECK_THROWS_WITH(require_same("c.h5", wanted, saved, resume_fields()), Catch::Contains("--lr is 0.1 here but 0.4"));
  wanted = saved;
  wanted.epochs = 200;  // the epoch count may grow on resume
  require_same("c.h5", wanted, saved, resume_fields());
}

TEST_CASE("recipe: a checkpoint whose momentum holds NaN or Inf is refused at load with the tensor named",
          "[recipe][bad-input]") {
  const test::TempDir tmp("momentum_nan");
  CpuBackend backend;
  StfpmModel model(backend, Recipe{});
  const std::string path = tmp.file("student.h5");
  save_checkpoint(path, model, CheckpointInfo{});
  load_checkpoint(path, model, true);  // as saved: fine
  const std::string name = "optimizer/momentum/layer2.1.conv1.weight";
  for (const float bad : {NAN, INFINITY}) {
    std::vector<float> m = H5Reader(path).read_floats(name);
    m[5] = bad;
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    REQUIRE(H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data()) >= 0);
    H5Dclose(dataset);
    H5Fclose(file);
    CHECK_THROWS_WITH(load_checkpoint(path, model, true),
                      Catch::Contains(path + ": tensor '" + name + "' holds " +
                                      (std::isnan(bad) ? "NaN" : "an infinite value") + " at element 5"));
    load_checkpoint(path, model, false);  // test and predict do not read the momentum
  }
}
