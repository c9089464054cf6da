//! `replica-lab classroom …`: each subcommand handed to the module that does it.

use crate::error::Result;
use crate::cli::ClassroomCommand;

pub async fn run(command: Option<ClassroomCommand>, db: Option<String>) -> Result<()> {
    match command {
        None => super::instructor::view(db.as_deref()).await,
        Some(ClassroomCommand::Host {
            db,
            title,
            code_valid,
            bind_host,
            port,
        }) => super::host::host(db.as_deref(), &title, &code_valid, bind_host, port).await,
        Some(ClassroomCommand::Down { purge }) => super::host::down(purge).await,
        Some(ClassroomCommand::Join {
            code,
            name,
            hub,
            allow_drills,
        }) => super::membership::join_command(&hub, &code, &name, allow_drills).await,
        Some(ClassroomCommand::Leave) => super::membership::leave_command().await,
        Some(ClassroomCommand::Roster { json }) => {
            super::instructor::roster_command(db.as_deref(), json).await
        }
        Some(ClassroomCommand::Broadcast { message }) => {
            super::instructor::broadcast(db.as_deref(), &message).await
        }
        Some(ClassroomCommand::Pace { upto }) => {
            super::instructor::pace(db.as_deref(), &upto).await
        }
        Some(ClassroomCommand::Drill { action, note }) => {
            super::instructor::drill(db.as_deref(), &action, &note).await
        }
        Some(ClassroomCommand::Export { csv, md }) => {
            super::instructor::export(db.as_deref(), csv.as_deref(), md.as_deref()).await
        }
    }
}
