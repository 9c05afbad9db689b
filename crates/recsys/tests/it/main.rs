//! The recommender's tests in one test binary, so that burn is linked once for all of them
//! rather than once per file.

mod published;
mod sasrec;
