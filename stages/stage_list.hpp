#pragma once
// Factories of every stage (one per stage file); registry.cpp orders them.
#include <memory>
#include <string>
#include <vector>

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
std::unique_ptr<Stage> make_simulate_movie_stage();
std::unique_ptr<Stage> make_style_fit_stage();
std::unique_ptr<Stage> make_landscape_stage();
std::unique_ptr<Stage> make_campaign_stats_stage();
std::unique_ptr<Stage> make_make_defect_trainset_stage();
std::unique_ptr<Stage> make_make_atoms_trainset_stage();
std::unique_ptr<Stage> make_classify_sites_stage();
std::unique_ptr<Stage> make_track_defects_stage();
std::unique_ptr<Stage> make_defect_motifs_stage();
std::unique_ptr<Stage> make_kinetics_stage();

/// Stages that run LibTorch (train, and the analyses' model stages). They are built into a second
/// executable, tmdflow-learn, so that the plain tmdflow never loads LibTorch (about 0.5 s at every
/// start of every rank); tmdflow hands a command that needs one of them over to tmdflow-learn
/// (apps/learn_handover.cpp). Their names and summaries are known to both executables.
struct LearnStageEntry {
  const char* name;
  const char* summary;
};
const std::vector<LearnStageEntry>& learn_stage_catalogue();
/// The summary of learn stage `name` from the catalogue (ConfigError when it is not there).
std::string learn_stage_summary(const std::string& name);
bool is_learn_stage(const std::string& name);
/// Adds a stage to the registry (tmdflow-learn's main, through register_learn_stages()).
void register_stage(const std::string& name, StageFactory factory);
/// Defined in stages/learn/ (only in tmdflow-learn): registers every learn stage.
void register_learn_stages();

}  // namespace tmdflow::stages
