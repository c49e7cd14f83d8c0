// The recipe (stfpm::Recipe, declared in the public header) and its one field table. The table drives the
// command line's recipe flags (recipe_fields(), set_recipe_field()), validation, the checkpoint's typed HDF5
// attributes, and the "checkpoint from another configuration" checks, so a field is added in one place.
#pragma once

#include <string>
#include <vector>

#include <stfpm/stfpm.h>

namespace stfpm {

class H5Reader;
class H5Writer;

// Writes every field as a typed root attribute (integers as int64, lists and floats as doubles, the seed as
// uint64), under the field's attribute name.
void write_recipe(H5Writer& out, const Recipe& recipe);
// Reads what write_recipe wrote. Version-1 checkpoints stored lists and the seed as text ("1,2,3"); those are
// read through the same parser as the command line.
Recipe read_recipe(const H5Reader& in);

// Throws "<path>: checkpoint from another configuration: --size is 96 here but 64 in the checkpoint" for the
// first of `fields` (recipe field names) whose value differs between `wanted` and `saved`.
void require_same(const std::string& path, const Recipe& wanted, const Recipe& saved,
                  const std::vector<std::string>& fields);
// The fields that must match to resume (all but the epoch count, which may grow).
std::vector<std::string> resume_fields();
// The fields test and predict take from a checkpoint (RecipeField::fixed_by_checkpoint).
std::vector<std::string> checkpoint_fixed_fields();

}  // namespace stfpm
