//! The class's catalogue on the hub: the lessons and steps of the instructor's replica-lab,
//! which `classroom host` writes for the session it opens. The hub takes events that name
//! these only (`migrations/0003_guard.sql`).

use tokio_postgres::Client;

use super::connect::HubError;
use crate::error::{Error, Result};
use crate::lesson::Lesson;
use crate::settings::Settings;

/// One lesson of the catalogue: its id and its steps' ids, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueLesson {
    pub id: String,
    pub steps: Vec<String>,
}

/// The lessons in teaching order, as the hub keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubCatalogue {
    pub lessons: Vec<CatalogueLesson>,
}

impl HubCatalogue {
    pub fn of(lessons: &[Lesson]) -> HubCatalogue {
        HubCatalogue {
            lessons: lessons
                .iter()
                .map(|l| CatalogueLesson {
                    id: l.id.clone(),
                    steps: l.steps.iter().map(|s| s.id.clone()).collect(),
                })
                .collect(),
        }
    }

    /// The lessons this instructor's replica-lab teaches: their `lessons` folder, else the
    /// shipped ones.
    pub fn load(settings: &Settings) -> Result<HubCatalogue> {
        crate::lesson::catalog::catalog(settings)
            .map(|l| HubCatalogue::of(&l))
            .map_err(|errors| {
                let first = errors.first().map(ToString::to_string).unwrap_or_default();
                Error::new(format!(
                    "the lessons cannot be loaded ({first}); fix them (replica-lab lessons \
                     check) or unset the `lessons` setting"
                ))
            })
    }

    pub fn steps(&self) -> usize {
        self.lessons.iter().map(|l| l.steps.len()).sum()
    }

    /// What `classroom.set_catalogue` takes: lesson ids, then each step as a (lesson, step)
    /// pair spread over two arrays.
    fn arrays(&self) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
        let ids = self.lessons.iter().map(|l| l.id.as_str()).collect();
        let pairs = self
            .lessons
            .iter()
            .flat_map(|l| l.steps.iter().map(|s| (l.id.as_str(), s.as_str())));
        let (of, steps) = pairs.unzip();
        (ids, of, steps)
    }
}

/// Writes `catalogue` as the catalogue of `session`, in place of any it had.
pub async fn upload(
    client: &Client,
    session: i64,
    catalogue: &HubCatalogue,
) -> std::result::Result<(), HubError> {
    let (ids, of, steps) = catalogue.arrays();
    client
        .query_one(
            "SELECT classroom.set_catalogue($1, $2, $3, $4)",
            &[&session, &ids, &of, &steps],
        )
        .await
        .map_err(|e| HubError::sql("cannot write the class's lessons to the hub", &e))?;
    Ok(())
}

/// Gives `catalogue` to every session that has none: those opened before the hub checked
/// events, whose learners would otherwise have every event refused. Returns how many.
pub async fn adopt(
    client: &Client,
    catalogue: &HubCatalogue,
) -> std::result::Result<u64, HubError> {
    let (ids, of, steps) = catalogue.arrays();
    let rows = client
        .query(
            "SELECT classroom.set_catalogue(s.id, $1, $2, $3)
             FROM classroom.sessions s
             WHERE NOT EXISTS (SELECT 1 FROM classroom.catalogue_lessons c
                               WHERE c.session_id = s.id)",
            &[&ids, &of, &steps],
        )
        .await
        .map_err(|e| HubError::sql("cannot write the lessons of older classes to the hub", &e))?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lessons_make_a_catalogue_of_pairs() {
        let lessons = crate::lesson::builtin_lessons().expect("the shipped lessons");
        let c = HubCatalogue::of(&lessons);
        assert_eq!(c.lessons.len(), lessons.len());
        assert_eq!(c.lessons[0].id, lessons[0].id);
        assert_eq!(c.lessons[0].steps[0], lessons[0].steps[0].id);
        let (ids, of, steps) = c.arrays();
        assert_eq!(ids.len(), lessons.len());
        assert_eq!(of.len(), steps.len());
        assert_eq!(steps.len(), c.steps());
        assert_eq!((of[0], steps[0]), (ids[0], c.lessons[0].steps[0].as_str()));
        assert_eq!(of.last(), ids.last());
    }
}
