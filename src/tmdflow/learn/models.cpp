// make_network: every family tmdflow trains, by name.
#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/autoencoder.hpp"
#include "tmdflow/learn/detector.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/resnet.hpp"
#include "tmdflow/learn/style_translator.hpp"
#include "tmdflow/learn/unet.hpp"

namespace tmdflow::learn {

std::shared_ptr<Network> make_network(const NetworkSpec& spec) {
  if (spec.family == "resnet") return make_resnet(spec);
  if (spec.family == "unet") return make_unet(spec);
  if (spec.family == "autoencoder") return std::make_shared<Autoencoder>(spec);
  if (spec.family == "detector") return make_detector(spec);
  if (spec.family == "style-translator") return std::make_shared<StyleTranslator>(spec);
  throw ConfigError("network: key 'family': expected resnet, unet, autoencoder, detector or style-translator, found '" + spec.family + "'");
}

}  // namespace tmdflow::learn
