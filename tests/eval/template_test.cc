// Templates: rendering, fields, filters, errors (eval/template.h).
#include "eval/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace qgrid::eval {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(Template, RendersNestedFieldsIndexingAndFilters) {
  json doc = {{"q", "Why?"},
              {"answers", {{"text", {"Paris", "in Paris"}}}},
              {"choices", {"a", "b", "c"}},
              {"gold", 2},
              {"label", "pos"}};
  EXPECT_EQ(*RenderTemplate("Q: {{q}}\nA:", doc), "Q: Why?\nA:");
  EXPECT_EQ(*RenderTemplate("{{answers.text.0}}|{{answers.text[1]}}", doc),
            "Paris|in Paris");
  EXPECT_EQ(
      *RenderTemplate("{{choices[gold]}} {{ choices | join(\", \") }}", doc),
      "c a, b, c");
  EXPECT_EQ(*RenderTemplate("{{label | upper}}{{choices|last}}", doc), "POSc");
  EXPECT_EQ(*RenderTemplate("{{ q | replace('?', '!') }}", doc), "Why!");
  EXPECT_EQ(*ResolveTemplateValue("{{choices}}", doc), doc["choices"]);
  EXPECT_EQ(*ResolveTemplateValue(" {{gold}} ", doc), json(2));
  EXPECT_EQ(*ResolveTemplateValue("gold", doc), json(2));  // bare field
}

TEST(Template, MissingFieldAndBadSyntaxAreErrorsNamingTheField) {
  json doc = {{"q", "x"}, {"list", {1, 2}}};
  auto s = RenderTemplate("{{answer}}", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("'answer'"));
  EXPECT_THAT(std::string(RenderTemplate("{{list.5}}", doc).status().message()),
              HasSubstr("out of range"));
  EXPECT_FALSE(RenderTemplate("{{q", doc).ok());
  EXPECT_FALSE(RenderTemplate("{% if q %}x{% endif %}", doc).ok());
  EXPECT_FALSE(RenderTemplate("{{q | nosuchfilter}}", doc).ok());
}

}  // namespace
}  // namespace qgrid::eval
