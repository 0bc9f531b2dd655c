// Registers every model of the library with biqa::load_model, once for the whole tool. The
// commands include only models/registry.hpp, so each of them compiles without the models' code.

#include "biqa/models/all_models.hpp"
