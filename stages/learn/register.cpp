// The stages of tmdflow-learn (see stage_list.hpp): added to the registry at its start.
#include "stage_list.hpp"

namespace tmdflow::stages {

std::unique_ptr<Stage> make_train_stage();
std::unique_ptr<Stage> make_predict_stage();
std::unique_ptr<Stage> make_train_stacking_stage();
std::unique_ptr<Stage> make_infer_stacking_stage();
std::unique_ptr<Stage> make_detect_defects_stage();
std::unique_ptr<Stage> make_segment_atoms_stage();
std::unique_ptr<Stage> make_site_instability_stage();
std::unique_ptr<Stage> make_style_train_stage();
std::unique_ptr<Stage> make_style_translate_stage();

void register_learn_stages() {
  register_stage("train", make_train_stage);
  register_stage("predict", make_predict_stage);
  register_stage("train-stacking", make_train_stacking_stage);
  register_stage("infer-stacking", make_infer_stacking_stage);
  register_stage("detect-defects", make_detect_defects_stage);
  register_stage("segment-atoms", make_segment_atoms_stage);
  register_stage("site-instability", make_site_instability_stage);
  register_stage("style-train", make_style_train_stage);
  register_stage("style-translate", make_style_translate_stage);
}

}  // namespace tmdflow::stages
