// Copyright kabar authors.
// Specification of model path resolution, on a scratch directory tree
// shaped like a checkout with a build directory.
#include "services/classify/model_paths.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/classify/testing/test_models.h"

namespace kabar::classify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ModelPathsTest : public ::testing::Test {
 protected:
  // root/
  //   models/lid.176.ftz
  //   build/bin/             <- the binary
  //   elsewhere/             <- the working directory
  //   share/kabar/models/topic.ftz
  void SetUp() override {
    root_ = testing::MakeTempDir();
    for (const char* dir :
         {"models", "build/bin", "elsewhere", "share/kabar/models"}) {
      std::filesystem::create_directories(root_ + "/" + dir);
    }
    Touch("models/lid.176.ftz");
    Touch("share/kabar/models/topic.ftz");
    search_.working_dir = root_ + "/elsewhere";
    search_.binary_dir = root_ + "/build/bin";
    search_.data_dir = root_ + "/share/kabar";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Touch(const std::string& relative) {
    std::ofstream(root_ + "/" + relative) << "model";
  }

  std::string root_;
  ModelSearchPath search_;
};

TEST_F(ModelPathsTest, SearchesWorkingDirThenBinaryDirAndParentsThenData) {
  search_.working_dir = "/w";
  search_.binary_dir = "/b/build/bin";
  search_.data_dir = "/usr/share/kabar";
  EXPECT_THAT(CandidateModelPaths("models/x.ftz", search_),
              ElementsAre("/w/models/x.ftz", "/b/build/bin/models/x.ftz",
                          "/b/build/models/x.ftz", "/b/models/x.ftz",
                          "/models/x.ftz", "/usr/share/kabar/models/x.ftz"));
}

TEST_F(ModelPathsTest, AbsolutePathsAreNotSearched) {
  EXPECT_THAT(CandidateModelPaths("/opt/m/x.ftz", search_),
              ElementsAre("/opt/m/x.ftz"));
}

TEST_F(ModelPathsTest, CandidatesAreNormalizedAndUnique) {
  search_.working_dir = "/b/build";
  search_.binary_dir = "/b/build/bin/";
  search_.data_dir = "";
  EXPECT_THAT(CandidateModelPaths("./models/../models/x.ftz", search_),
              ElementsAre("/b/build/models/x.ftz", "/b/build/bin/models/x.ftz",
                          "/b/models/x.ftz", "/models/x.ftz"));
}

TEST_F(ModelPathsTest, FindsModelsBesideTheBuildDirectory) {
  // build/bin/../../models/lid.176.ftz
  absl::StatusOr<std::string> path =
      ResolveModelPath("models/lid.176.ftz", search_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, root_ + "/models/lid.176.ftz");
}

TEST_F(ModelPathsTest, WorkingDirectoryWins) {
  std::filesystem::create_directories(root_ + "/elsewhere/models");
  Touch("elsewhere/models/lid.176.ftz");
  EXPECT_EQ(*ResolveModelPath("models/lid.176.ftz", search_),
            root_ + "/elsewhere/models/lid.176.ftz");
}

TEST_F(ModelPathsTest, FallsBackToInstalledData) {
  EXPECT_EQ(*ResolveModelPath("models/topic.ftz", search_),
            root_ + "/share/kabar/models/topic.ftz");
}

TEST_F(ModelPathsTest, DirectoriesDoNotCount) {
  EXPECT_EQ(ResolveModelPath("models", search_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ModelPathsTest, NotFoundNamesEveryPathTried) {
  const absl::Status status =
      ResolveModelPath("models/missing.ftz", search_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  for (const std::string& candidate :
       CandidateModelPaths("models/missing.ftz", search_)) {
    EXPECT_THAT(status.message(), HasSubstr(candidate));
  }
  EXPECT_EQ(ResolveModelPath("", search_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DefaultModelSearchPathTest, UsesTheWorkingDirectoryAndThisBinary) {
  const ModelSearchPath search = DefaultModelSearchPath();
  EXPECT_EQ(search.working_dir, std::filesystem::current_path().string());
  EXPECT_FALSE(search.binary_dir.empty());
  EXPECT_TRUE(std::filesystem::is_directory(search.binary_dir));
  EXPECT_EQ(search.data_dir, "/usr/share/kabar");
}

}  // namespace
}  // namespace kabar::classify
