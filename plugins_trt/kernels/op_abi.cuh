// What a generated op (plugins_trt/ops/<op>.cuh) is written against: its attributes as the kernels
// and plugins pass them, the surrogate of the backward, and the limits the generator checks.
#ifndef NSB_OP_ABI_CUH
#define NSB_OP_ABI_CUH  // a guard, not #pragma once: NVRTC sees headers by include name

#include "kernels/nsb_math.cuh"

namespace nsb {

constexpr int kMaxInputs = 16;   // per-neuron input vectors of one op
constexpr int kMaxRows = 4;      // per-step inputs of one op
constexpr int kMaxStates = 8;    // element states of one op (the last spike included)
constexpr int kMaxFloats = 16;   // float attributes
constexpr int kMaxChoices = 8;   // choice attributes

// An op node's attributes: floats in declaration order, choices as the index of their value.
struct Attributes {
    float f[kMaxFloats];
    int e[kMaxChoices];
    float soft;  // training under ASGL's noisy spike: its width a (0, as a plugin leaves it: the plain spike)
};

struct SurrogateSpec {
    int id;            // nsb::Surrogate
    float alpha;       // its width
    int detach_reset;  // a learning rule that detaches the reset: f.reset(s) passes no gradient
};

// A plugin field: a float attribute with its default and range, or a choice with its values.
struct AttributeSpec {
    char const* name;
    bool is_choice;
    float default_value;     // floats
    bool has_lo, has_hi, open_lo, open_hi;
    float lo, hi;
    int default_choice;      // choices
    int choice_count;
    char const* const* choices;
};

}  // namespace nsb

#endif  // NSB_OP_ABI_CUH
