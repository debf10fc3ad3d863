#pragma once
// Help texts of the tmdflow commands (`tmdflow help COMMAND`, `tmdflow COMMAND --help`).
#include <string>
#include <vector>

namespace tmdflow::app {

/// The help of `command` (run, stage, stages, inspect, validate, help); empty for an unknown one.
/// The text of `stage` ends before the list of stages, which the caller appends from the registry.
std::string command_help(const std::string& command);

/// True when `args` (the arguments after the command) ask for the command's help.
bool asks_for_help(const std::string& command, const std::vector<std::string>& args);

}  // namespace tmdflow::app
