// The built-in application table (docs/apps.md). Format: <domain suffix> <application>
// <category>, whitespace-separated, '#' starts a comment. A name matches the longest suffix
// that ends at a label boundary. Users add to or override it with --apps FILE.
#include "dissectors/apps/apps.h"

namespace flowscribe::dissect {

std::string_view AppDb::builtin_text() noexcept {
  return R"(
# --- social ---
twitter.com            twitter        social
x.com                  twitter        social
twimg.com              twitter        social
t.co                   twitter        social
linkedin.com           linkedin       social
licdn.com              linkedin       social
facebook.com           facebook       social
facebook.net           facebook       social
fbcdn.net              facebook       social
fb.com                 facebook       social
messenger.com          facebook       social
instagram.com          instagram      social
cdninstagram.com       instagram      social
tiktok.com             tiktok         social
tiktokcdn.com          tiktok         social
tiktokv.com            tiktok         social
musical.ly             tiktok         social
byteoversea.com        tiktok         social
reddit.com             reddit         social
redd.it                reddit         social
redditmedia.com        reddit         social
pinterest.com          pinterest      social
snapchat.com           snapchat       social
# --- messaging / collaboration ---
whatsapp.com           whatsapp       messaging
whatsapp.net           whatsapp       messaging
wa.me                  whatsapp       messaging
telegram.org           telegram       messaging
t.me                   telegram       messaging
telegram.me            telegram       messaging
slack.com              slack          collaboration
slack-edge.com         slack          collaboration
slack-msgs.com         slack          collaboration
zoom.us                zoom           conferencing
zoom.com               zoom           conferencing
zoomgov.com            zoom           conferencing
teams.microsoft.com    ms-teams       conferencing
teams.live.com         ms-teams       conferencing
skype.com              skype          conferencing
discord.com            discord        messaging
discord.gg             discord        messaging
discordapp.com         discord        messaging
signal.org             signal         messaging
webex.com              webex          conferencing
# --- file sharing / storage ---
dropbox.com            dropbox        file-sharing
dropboxapi.com         dropbox        file-sharing
dropboxusercontent.com dropbox        file-sharing
db.tt                  dropbox        file-sharing
box.com                box            file-sharing
box.net                box            file-sharing
boxcloud.com           box            file-sharing
wetransfer.com         wetransfer     file-sharing
wetransfer.net         wetransfer     file-sharing
we.tl                  wetransfer     file-sharing
onedrive.live.com      onedrive       file-sharing
onedrive.com           onedrive       file-sharing
1drv.ms                onedrive       file-sharing
1drv.com               onedrive       file-sharing
sharepoint.com         sharepoint     file-sharing
mega.nz                mega           file-sharing
mega.io                mega           file-sharing
drive.google.com       google-drive   file-sharing
docs.google.com        google-docs    productivity
icloud.com             icloud         file-sharing
icloud-content.com     icloud         file-sharing
me.com                 icloud         file-sharing
# --- video / streaming ---
youtube.com            youtube        video
youtu.be               youtube        video
ytimg.com              youtube        video
googlevideo.com        youtube        video
youtube-nocookie.com   youtube        video
netflix.com            netflix        video
netflix.net            netflix        video
nflxvideo.net          netflix        video
nflximg.net            netflix        video
nflxext.com            netflix        video
nflxso.net             netflix        video
twitch.tv              twitch         video
ttvnw.net              twitch         video
spotify.com            spotify        audio
scdn.co                spotify        audio
hulu.com               hulu           video
disneyplus.com         disney-plus    video
vimeo.com              vimeo          video
primevideo.com         amazon-prime-video video
# --- Google ---
google.com             google         search
google.co.uk           google         search
googleapis.com         google-apis    cloud
gstatic.com            google         web-services
googleusercontent.com  google         web-services
gmail.com              gmail          email
mail.google.com        gmail          email
googlemail.com         gmail          email
1e100.net              google         web-services
doubleclick.net        google-ads     advertising
googlesyndication.com  google-ads     advertising
google-analytics.com   google-analytics analytics
cloud.google.com       google-cloud   cloud
appspot.com            google-cloud   cloud
# --- Microsoft ---
microsoft.com          microsoft      web-services
office.com             ms-office365   productivity
office.net             ms-office365   productivity
office365.com          ms-office365   productivity
microsoftonline.com    ms-office365   productivity
outlook.com            ms-outlook     email
outlook.office.com     ms-outlook     email
outlook.office365.com  ms-outlook     email
hotmail.com            ms-outlook     email
live.com               microsoft      web-services
msn.com                microsoft      web-services
bing.com               bing           search
windowsupdate.com      windows-update software-update
update.microsoft.com   windows-update software-update
azure.com              azure          cloud
azure.net              azure          cloud
azureedge.net          azure          cloud
azurewebsites.net      azure          cloud
windows.net            azure          cloud
cloudapp.net           azure          cloud
# --- Apple ---
apple.com              apple          web-services
mzstatic.com           apple          web-services
apple-cloudkit.com     icloud         file-sharing
itunes.apple.com       apple-itunes   audio
# --- Amazon / cloud / CDN ---
amazon.com             amazon         shopping
amazonaws.com          aws            cloud
aws.amazon.com         aws            cloud
awsstatic.com          aws            cloud
cloudfront.net         aws-cloudfront cdn
cloudflare.com         cloudflare     cdn
akamaihd.net           akamai         cdn
akamaiedge.net         akamai         cdn
fastly.net             fastly         cdn
# --- development ---
github.com             github         development
githubusercontent.com  github         development
github.io              github         development
githubassets.com       github         development
gitlab.com             gitlab         development
bitbucket.org          bitbucket      development
stackoverflow.com      stackoverflow  development
npmjs.org              npm            development
npmjs.com              npm            development
pypi.org               pypi           development
docker.io              docker-hub     development
docker.com             docker-hub     development
debian.org             debian         software-update
ubuntu.com             ubuntu         software-update
# --- other well-known ---
wikipedia.org          wikipedia      reference
paypal.com             paypal         finance
ebay.com               ebay           shopping
yahoo.com              yahoo          web-services
baidu.com              baidu          search
openai.com             openai         ai
chatgpt.com            openai         ai
anthropic.com          anthropic      ai
salesforce.com         salesforce     business
)";
}

}  // namespace flowscribe::dissect
