#pragma once
// Factories of every stage (one per stage file); registry.cpp orders them.
#include <memory>

#include "stage.hpp"

namespace tmdflow::stages {

std::unique_ptr<Stage> make_ingest_stage();
std::unique_ptr<Stage> make_synthesize_datacube_stage();
std::unique_ptr<Stage> make_virtual_image_stage();
std::unique_ptr<Stage> make_diffraction_features_stage();
std::unique_ptr<Stage> make_domains_stage();
std::unique_ptr<Stage> make_simulate_4dstem_stage();
std::unique_ptr<Stage> make_simulate_adf_stage();
std::unique_ptr<Stage> make_make_trainset_stage();

}  // namespace tmdflow::stages
