#include "stage_list.hpp"

namespace tmdflow::stages {

const std::vector<std::pair<std::string, StageFactory>>& registry() {
  static const std::vector<std::pair<std::string, StageFactory>> stages = {
      {"ingest", make_ingest_stage},
      {"synthesize-datacube", make_synthesize_datacube_stage},
      {"simulate-adf", make_simulate_adf_stage},
      {"simulate-4dstem", make_simulate_4dstem_stage},
      {"make-trainset", make_make_trainset_stage},
      {"virtual-image", make_virtual_image_stage},
      {"diffraction-features", make_diffraction_features_stage},
      {"domains", make_domains_stage},
  };
  return stages;
}

}  // namespace tmdflow::stages
