//! The client's calls for channels, hosts and breakout groups.

use crate::client::{unexpected, Client, ClientError};
use crate::types::*;

impl Client {
    /// Says `text` in `channel` (a name or id; `None`: general).
    pub async fn say_in(&mut self, room: &str, channel: Option<&str>, text: &str) -> Result<MessageInfo, ClientError> {
        self.message(Request::Say { room: room.into(), text: text.into(), reply_to: None, channel: channel.map(str::to_string) }).await
    }

    /// A channel's history (and the hosts' broadcasts); `None`: every channel.
    pub async fn history_in(&mut self, room: &str, channel: Option<&str>, limit: Option<u32>) -> Result<Vec<MessageInfo>, ClientError> {
        match self.request(&Request::History { room: room.into(), limit, channel: channel.map(str::to_string) }).await? {
            Reply::History(h) => Ok(h),
            other => Err(unexpected(other)),
        }
    }

    /// Offers files in `channel` (a name or id; `None`: general).
    pub async fn send_in(
        &mut self,
        room: &str,
        channel: Option<&str>,
        paths: Vec<String>,
        name: Option<String>,
    ) -> Result<Vec<OfferInfo>, ClientError> {
        match self.request(&Request::Send { room: room.into(), paths, name, channel: channel.map(str::to_string) }).await? {
            Reply::Offered(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }

    /// The files offered in `channel` (`None`: in every channel).
    pub async fn files_in(&mut self, room: &str, channel: Option<&str>) -> Result<Vec<FileInfo>, ClientError> {
        match self.request(&Request::Files { room: room.into(), channel: channel.map(str::to_string) }).await? {
            Reply::Files(f) => Ok(f),
            other => Err(unexpected(other)),
        }
    }

    pub async fn call_join_in(&mut self, room: &str, channel: Option<&str>) -> Result<CallStatus, ClientError> {
        self.call(Request::CallJoin { room: room.into(), channel: channel.map(str::to_string) }).await
    }

    /// Any request answered with the room's channels.
    pub async fn channels(&mut self, req: Request) -> Result<ChannelsInfo, ClientError> {
        match self.request(&req).await? {
            Reply::Channels(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    pub async fn channel_list(&mut self, room: &str) -> Result<ChannelsInfo, ClientError> {
        self.channels(Request::ChannelList { room: room.into() }).await
    }

    /// Moves `member` (ourselves, or anyone when we are a host) to `channel`.
    pub async fn call_move(&mut self, room: &str, member: &str, channel: &str) -> Result<ChannelsInfo, ClientError> {
        self.channels(Request::CallMove { room: room.into(), member: member.into(), channel: channel.into() }).await
    }

    pub async fn breakout_start(
        &mut self,
        room: &str,
        groups: u32,
        minutes: Option<u32>,
        assign: Vec<Assignment>,
    ) -> Result<ChannelsInfo, ClientError> {
        self.channels(Request::BreakoutStart { room: room.into(), groups, minutes, assign }).await
    }

    pub async fn breakout_end(&mut self, room: &str) -> Result<ChannelsInfo, ClientError> {
        self.channels(Request::BreakoutEnd { room: room.into() }).await
    }
}
