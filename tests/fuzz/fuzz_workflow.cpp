// libFuzzer target: workflow INI files (stages/workflow.cpp load_workflow): the INI parser, the
// [workflow] section, --input/--output/--set overrides, ${section.key} references, step chaining
// and each step's stage and option names. Input: the INI text, optionally followed by a line
// "%%" and override lines "input=...", "output=..." or "SECTION.KEY=VALUE" (--set).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "tmdflow/core/log.hpp"
#include "workflow.hpp"

using namespace tmdflow;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find("\n%%\n");
  const std::string path = fuzz::Scratch::get().write("workflow.ini", input.substr(0, split));

  stages::WorkflowOverrides overrides;
  if (split != std::string_view::npos) {
    std::string_view rest = input.substr(split + 4);
    while (!rest.empty()) {
      const std::size_t eol = rest.find('\n');
      const std::string line(rest.substr(0, eol));
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      const std::size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
      if (key == "input") overrides.input = value;
      else if (key == "output") overrides.output = value;
      else overrides.set.emplace_back(key, value);
    }
  }

  fuzz::expect_only_typed_errors([&] {
    const stages::Workflow wf = stages::load_workflow(path, overrides);
    fuzz::check(!wf.steps.empty(), "a loaded workflow has steps");
    for (const auto& step : wf.steps) {
      fuzz::check(!step.request.stage.empty(), "every step names its stage");
      fuzz::check(!step.request.output.empty(), "every step has an output");
      // References are all resolved: none is left for a stage to see.
      for (const auto& [k, v] : step.request.options) fuzz::check(v.find("${") == std::string::npos, "references resolved");
    }
  });
  return 0;
}
