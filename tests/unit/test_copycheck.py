"""Copy detection (R-F1): realistic Vietnamese pairs decide the threshold.

Every pair below was written for this test. Copies: verbatim, names changed, figures and
formatting changed, a few words changed, sentences reordered, reordered with words changed,
a paragraph added, a part copied, full stops turned into commas, pronouns swapped. Honest
pairs: members of the same chi bộ and office describing the same meetings, resolutions and
campaigns in their own words, members following the form's sub-headings, and short stock
answers ("Không có"). When a test fails, its message holds the whole score table.
"""

from __future__ import annotations

import random
import time

import pytest

from bot.i18n import Translator
from bot.services.copycheck import GATE
from bot.services.copycheck import MIN_CHARS
from bot.services.copycheck import THRESHOLD
from bot.services.copycheck import CopyFlag
from bot.services.copycheck import OtherReview
from bot.services.copycheck import _gate
from bot.services.copycheck import _Hint
from bot.services.copycheck import _Text
from bot.services.copycheck import find_copies
from bot.services.copycheck import hint_score
from bot.services.copycheck import normalise
from bot.services.copycheck import section_score
from bot.services.copycheck import similarity
from rules.review_form import sections_for

VI = Translator("vi")
HINTS = {section.key: VI(section.hint) for section in sections_for("2A")}
HINTS_2C = {section.key: VI(section.hint) for section in sections_for("2C")}
MARGIN = 10.0  # the threshold keeps at least this far from every pair
HUNG = "Nguyễn Văn Hùng"
POLITICS_HUNG = (
    "Bản thân luôn trung thành với chủ nghĩa Mác - Lênin, tư tưởng Hồ Chí Minh, kiên định mục "
    "tiêu độc lập dân tộc gắn liền với chủ nghĩa xã hội. Chấp hành nghiêm chủ trương, đường lối "
    "của Đảng, chính sách, pháp luật của Nhà nước và các quy định của cơ quan.\n"
    "Có lối sống giản dị, trung thực, gần gũi với đồng nghiệp và nhân dân; không có biểu hiện "
    "tham nhũng, lãng phí, quan liêu. Giữ gìn đoàn kết nội bộ, thẳng thắn góp ý với đồng chí, "
    "đồng nghiệp trên tinh thần xây dựng.\n"
    "Thực hiện nghiêm nguyên tắc tập trung dân chủ, tự phê bình và phê bình; tham gia đầy đủ "
    "sinh hoạt chi bộ hằng tháng, đóng đảng phí đúng quy định. Qua tự soi, tự sửa, bản thân "
    "không có biểu hiện suy thoái về tư tưởng chính trị, đạo đức, lối sống, “tự diễn biến”, "
    "“tự chuyển hóa”."
)
# Paragraphs reordered and a few words changed.
POLITICS_HUNG_REWORKED = (
    "Thực hiện nghiêm nguyên tắc tập trung dân chủ, tự phê bình và phê bình; tham gia đầy đủ "
    "các buổi sinh hoạt chi bộ hằng tháng, đóng đảng phí đầy đủ. Qua tự soi, tự sửa, bản thân "
    "không có biểu hiện suy thoái về tư tưởng chính trị, đạo đức, lối sống, “tự diễn biến”, "
    "“tự chuyển hóa”.\n"
    "Luôn trung thành với chủ nghĩa Mác - Lênin, tư tưởng Hồ Chí Minh, kiên định mục tiêu độc "
    "lập dân tộc gắn liền với chủ nghĩa xã hội. Chấp hành nghiêm chủ trương, đường lối của "
    "Đảng, chính sách, pháp luật của Nhà nước và các quy định của đơn vị.\n"
    "Có lối sống giản dị, trung thực, gần gũi với đồng nghiệp và quần chúng; không có biểu hiện "
    "tham nhũng, lãng phí, quan liêu. Giữ gìn đoàn kết nội bộ, thẳng thắn góp ý với đồng chí, "
    "đồng nghiệp trên tinh thần xây dựng."
)

MAI = "Lê Thị Mai"
POLITICS_MAI = (
    "Trong năm, tôi luôn giữ vững lập trường chính trị, tin tưởng vào sự lãnh đạo của Đảng và "
    "con đường đi lên chủ nghĩa xã hội mà Đảng và Bác Hồ đã lựa chọn. Tôi tích cực học tập các "
    "nghị quyết, chỉ thị mới, nhất là các văn bản về sắp xếp tổ chức bộ máy, và chia sẻ lại với "
    "tổ chuyên môn để cùng thực hiện.\n"
    "Về đạo đức, lối sống: tôi sống hòa nhã với mọi người, không đua đòi, không nhận quà biếu "
    "của phụ huynh học sinh; gia đình chấp hành tốt quy định nơi cư trú. Tôi tôn trọng ý kiến "
    "tập thể, khi có điều chưa đồng tình thì trao đổi trực tiếp trong cuộc họp chứ không nói "
    "sau lưng.\n"
    "Tôi đi họp chi bộ đủ 12/12 buổi, nộp đảng phí đúng hạn, không vi phạm những điều đảng viên "
    "không được làm. Tự liên hệ thấy bản thân không có biểu hiện suy thoái, “tự diễn biến”, "
    "“tự chuyển hóa”."
)
DUC = "Phạm Văn Đức"
POLITICS_DUC = (
    "Tôi kiên định với mục tiêu, lý tưởng của Đảng, không dao động trước những luận điệu xuyên "
    "tạc trên mạng xã hội; khi gặp thông tin sai trái đã chủ động báo cáo chi ủy và giải thích "
    "cho người thân hiểu đúng. Nắm vững và triển khai trong bộ phận kế toán những quy định mới "
    "về quản lý tài chính công.\n"
    "Bản thân giữ nếp sống tiết kiệm, không sử dụng xe công vào việc riêng, không tổ chức tiệc "
    "tùng khi gia đình có việc hiếu hỷ. Quan hệ với anh em trong cơ quan chân thành, sẵn sàng "
    "hỗ trợ đồng nghiệp khi quyết toán cuối năm.\n"
    "Dự sinh hoạt chi bộ thường xuyên, vắng một buổi có báo cáo; chấp hành sự phân công của tổ "
    "chức. Đối chiếu với 27 biểu hiện suy thoái, bản thân chưa thấy có biểu hiện nào."
)
# Two members who follow the form's own sub-headings, each in their own words.
POLITICS_LABELLED_A = (
    "Tư tưởng chính trị: tôi tin tưởng tuyệt đối vào đường lối đổi mới của Đảng, thường xuyên "
    "đọc báo Nhân Dân và trao đổi với đồng nghiệp về thời sự.\n"
    "Phẩm chất đạo đức, lối sống: sống giản dị, không vay mượn, không tham gia cờ bạc, giúp đỡ "
    "hàng xóm khi ốm đau.\n"
    "Ý thức tổ chức kỷ luật; tác phong, lề lối làm việc: đi làm đúng giờ, chấp hành sự phân "
    "công của trưởng phòng, chưa lần nào bị nhắc nhở."
)
POLITICS_LABELLED_B = (
    "Tư tưởng chính trị: kiên định lập trường, chủ động phản bác các bài viết sai trái về cải "
    "cách tiền lương mà tôi gặp trên mạng xã hội.\n"
    "Phẩm chất đạo đức, lối sống: giữ gìn nếp nhà, dạy con cái lễ phép, tham gia hội khuyến "
    "học của dòng họ.\n"
    "Ý thức tổ chức kỷ luật; tác phong, lề lối làm việc: hoàn thành hồ sơ thẩm định đúng hạn, "
    "báo cáo trung thực với lãnh đạo về những việc làm chưa tốt."
)

LAN = "Nguyễn Thị Lan"
BINH = "Trần Văn Bình"
RESULTS_LAN = (
    "Năm học 2024 - 2025, tôi, Nguyễn Thị Lan, được phân công dạy Ngữ văn lớp 8A, 8B và làm "
    "chủ nhiệm lớp 8A. Kết quả cuối năm lớp 8A có 38/40 học sinh được đánh giá mức Tốt và Khá "
    "về học tập, 100% học sinh được đánh giá mức Tốt về rèn luyện; có 3 em đạt giải học sinh "
    "giỏi cấp huyện môn Ngữ văn.\n"
    "Tôi hoàn thành sáng kiến kinh nghiệm “Một số biện pháp rèn kỹ năng viết đoạn văn nghị luận "
    "cho học sinh lớp 8”, được Hội đồng khoa học nhà trường xếp loại A. Tham gia tổ chức Hội thi "
    "giáo viên dạy giỏi cấp trường, được giao làm thư ký hội thi.\n"
    "Công tác kiêm nhiệm Tổ trưởng công đoàn: phối hợp tổ chức chuyến tham quan cho đoàn viên, "
    "vận động quyên góp ủng hộ đồng bào bị thiệt hại do bão số 3 được 12.500.000 đồng. Các hồ "
    "sơ, sổ sách chuyên môn hoàn thành đầy đủ, đúng thời hạn."
)
RESULTS_BINH = RESULTS_LAN.replace("Nguyễn Thị Lan", "Trần Văn Bình")
# Copied with the name, the classes and the figures changed, lines run together, bullets added.
RESULTS_BINH_EDITED = (
    "- Năm học 2024 - 2025, tôi, Trần Văn Bình, được phân công dạy Ngữ văn lớp 7A, 7B và làm "
    "chủ nhiệm lớp 7B. Kết quả cuối năm lớp 7B có 36/41 học sinh được đánh giá mức Tốt và Khá "
    "về học tập, 100% học sinh được đánh giá mức Tốt về rèn luyện; có 2 em đạt giải học sinh "
    "giỏi cấp huyện môn Ngữ văn. - Tôi hoàn thành sáng kiến kinh nghiệm “Một số biện pháp rèn "
    "kỹ năng viết đoạn văn nghị luận cho học sinh lớp 7”, được Hội đồng khoa học nhà trường xếp "
    "loại A. Tham gia tổ chức Hội thi giáo viên dạy giỏi cấp trường, được giao làm thư ký hội "
    "thi. - Công tác kiêm nhiệm Tổ trưởng công đoàn: phối hợp tổ chức chuyến tham quan cho "
    "đoàn viên, vận động quyên góp ủng hộ đồng bào bị thiệt hại do bão số 3 được 9.800.000 "
    "đồng. Các hồ sơ, sổ sách chuyên môn hoàn thành đầy đủ, đúng thời hạn."
)
THU = "Hoàng Thị Thu"
RESULTS_THU = (
    "Tôi được nhà trường phân công giảng dạy môn Toán các lớp 9A, 9C và phụ trách đội tuyển học "
    "sinh giỏi Toán 9. Tỷ lệ học sinh lớp 9A, 9C đạt điểm trung bình môn từ 5,0 trở lên là 92%; "
    "đội tuyển có 2 em đạt giải Ba cấp huyện, 1 em dự thi cấp tỉnh.\n"
    "Trong năm tôi viết sáng kiến về ứng dụng phần mềm GeoGebra trong dạy hình học, được nhà "
    "trường công nhận và xếp loại B. Tôi tham gia Hội thi giáo viên dạy giỏi cấp trường và đạt "
    "giải Nhì.\n"
    "Với vai trò ủy viên Ban chấp hành công đoàn, tôi cùng các đồng chí vận động giáo viên ủng "
    "hộ đồng bào vùng bão số 3, tổ chức thăm hỏi đoàn viên ốm đau. Hồ sơ chuyên môn nộp đúng "
    "hạn, tuy có lúc kế hoạch bài dạy còn bổ sung muộn."
)

TAI = "Võ Văn Tài"
NAM = "Đỗ Hoài Nam"
SHORTCOMINGS_TAI = (
    "Đôi lúc còn ngại va chạm, chưa mạnh dạn đấu tranh với những biểu hiện sai trái trong cơ "
    "quan, nhất là khi góp ý với cấp trên. Việc nghiên cứu, học tập nghị quyết có lúc còn mang "
    "tính hình thức, chưa liên hệ sát với nhiệm vụ chuyên môn của bộ phận.\n"
    "Một số văn bản tham mưu cho lãnh đạo còn chậm so với thời hạn yêu cầu, có 2 báo cáo quý "
    "phải bổ sung số liệu.\n"
    "Nguyên nhân chủ yếu là do bản thân chưa sắp xếp thời gian hợp lý, khối lượng công việc "
    "nhiều; tinh thần tự học, tự nghiên cứu chưa cao."
)
SHORTCOMINGS_NAM = (
    "Có lúc còn ngại va chạm, chưa thật sự mạnh dạn đấu tranh với các biểu hiện sai trái trong "
    "đơn vị, nhất là khi góp ý với lãnh đạo. Việc học tập, nghiên cứu nghị quyết đôi khi còn "
    "mang tính hình thức, chưa liên hệ sát với nhiệm vụ chuyên môn của bộ phận.\n"
    "Một vài văn bản tham mưu cho lãnh đạo còn chậm so với thời hạn yêu cầu, có 3 báo cáo tháng "
    "phải bổ sung số liệu.\n"
    "Nguyên nhân chủ yếu là do bản thân chưa bố trí thời gian hợp lý, khối lượng công việc lớn; "
    "tinh thần tự học, tự nghiên cứu chưa cao."
)
SHORTCOMINGS_THU = (
    "Tôi nhận thấy mình còn nể nang khi góp ý cho đồng nghiệp trong các buổi sinh hoạt chi bộ, "
    "ý kiến phát biểu chưa nhiều. Kỹ năng sử dụng phần mềm quản lý hồ sơ điện tử còn hạn chế "
    "nên một số hồ sơ phải nhờ đồng nghiệp hỗ trợ, làm chậm tiến độ chung.\n"
    "Nguyên nhân: tôi chưa dành nhiều thời gian tự học công nghệ thông tin; tính cách còn ngại "
    "nói thẳng, sợ mất lòng."
)
SHORTCOMINGS_DUC = (
    "Chưa chủ động đề xuất giải pháp mới trong công tác tiếp công dân; việc cập nhật văn bản "
    "pháp luật về đất đai có lúc chưa kịp thời, dẫn đến phải trả lời bổ sung cho hai trường "
    "hợp. Trong sinh hoạt chi bộ còn ít phát biểu, chưa mạnh dạn phê bình.\n"
    "Nguyên nhân chính là do chủ quan, bản thân chưa thật sự cố gắng tự nghiên cứu; ngoài ra "
    "khối lượng hồ sơ tồn đọng lớn."
)

_MEASURES_TAI = [
    "Tiếp tục học tập, quán triệt các nghị quyết, chỉ thị của Đảng và liên hệ cụ thể với nhiệm "
    "vụ của bộ phận.",
    "Mạnh dạn hơn trong tự phê bình và phê bình, thẳng thắn góp ý với đồng nghiệp và cấp trên.",
    "Lập kế hoạch công việc theo tuần để hoàn thành văn bản tham mưu đúng thời hạn, chậm nhất "
    "trong quý I năm 2026.",
    "Dành ít nhất hai buổi mỗi tháng tự học kỹ năng số và phần mềm quản lý văn bản.",
    "Giữ gìn đoàn kết nội bộ, phối hợp chặt chẽ với các bộ phận liên quan.",
]
MEASURES_TAI = " ".join(_MEASURES_TAI)
MEASURES_NAM_REORDERED = "\n".join(_MEASURES_TAI[i] for i in (3, 0, 4, 2, 1))
MEASURES_THU = (
    "Trong năm 2026 tôi sẽ đăng ký lớp bồi dưỡng tin học văn phòng do huyện tổ chức để sử dụng "
    "thành thạo phần mềm hồ sơ điện tử. Mỗi buổi sinh hoạt chi bộ chuẩn bị trước ít nhất một ý "
    "kiến đóng góp. Khi có điều chưa đồng tình sẽ góp ý trực tiếp, trên tinh thần xây dựng. Đề "
    "nghị chi ủy và đồng chí tổ trưởng nhắc nhở, giám sát việc khắc phục."
)
MEASURES_DUC = (
    "Chủ động nghiên cứu Luật Đất đai năm 2024 và các nghị định hướng dẫn, lập sổ tay tra cứu "
    "để trả lời công dân chính xác. Phấn đấu giải quyết dứt điểm hồ sơ tồn đọng trước ngày "
    "30/6/2026. Tích cực phát biểu xây dựng trong sinh hoạt chi bộ, không né tránh phê bình. "
    "Tiếp tục học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh."
)

COMMITMENT_MAI = (
    "Đầu năm, tôi đăng ký cam kết tu dưỡng, rèn luyện với các nội dung: hoàn thành tốt nhiệm vụ "
    "chuyên môn; học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh với việc làm cụ "
    "thể là tiết kiệm giấy in, điện nước tại phòng làm việc; tham gia lớp bồi dưỡng lý luận "
    "chính trị.\n"
    "Kết quả: tôi đã hoàn thành lớp trung cấp lý luận chính trị, đạt loại khá; thực hiện tốt "
    "việc tiết kiệm, số lần in ấn văn bản giảm rõ rệt nhờ dùng hệ thống văn bản điện tử. Riêng "
    "nội dung học thêm tiếng Anh chưa thực hiện được do lịch công tác dày."
)
COMMITMENT_MAI_PLUS = COMMITMENT_MAI + (
    "\n\nNgoài ra, tôi còn tham gia hiến máu tình nguyện hai lần trong năm, nhận đỡ đầu một học "
    "sinh có hoàn cảnh khó khăn ở thôn Đông và vận động gia đình thực hiện tốt cuộc vận động "
    "“Toàn dân đoàn kết xây dựng nông thôn mới, đô thị văn minh”."
)
COMMITMENT_THU = (
    "Tôi cam kết năm 2025 học tập, quán triệt đầy đủ Nghị quyết Đại hội Đảng bộ xã và chương "
    "trình hành động của chi bộ; làm theo Bác bằng việc đi làm đúng giờ, giải quyết hồ sơ cho "
    "dân không để quá hạn. Đến cuối năm, tôi tham gia đủ các buổi học tập nghị quyết, viết bài "
    "thu hoạch đạt yêu cầu; hồ sơ một cửa của tôi không có trường hợp trễ hẹn. Việc rèn luyện "
    "thể thao theo cam kết chỉ thực hiện được nửa năm."
)
COMMITMENT_DUC = (
    "Năm nay, cam kết của tôi gồm ba việc: tự học để nắm chắc Nghị quyết Đại hội Đảng bộ xã; "
    "vận động bà con tổ 5 đóng góp làm đường giao thông nông thôn; giữ gìn gia đình văn hóa. "
    "Tôi đã tuyên truyền cho 20 hộ trong tổ, có 18 hộ đồng thuận hiến đất, góp tiền; gia đình "
    "tiếp tục được công nhận gia đình văn hóa. Việc tự học nghị quyết mới dừng ở mức đọc tài "
    "liệu, chưa viết được bài thu hoạch sâu."
)

SON = "Đặng Văn Sơn"
HOA = "Bùi Thị Hoa"
CELL_RESULTS_SON = (
    "Tôi là đảng viên hưu trí, được chi bộ phân công phụ trách tuyên truyền ở tổ dân phố số 4. "
    "Trong năm, tôi đã vận động các hộ thực hiện phân loại rác tại nguồn, tham gia đoàn kiểm "
    "tra vệ sinh môi trường của khu phố mỗi tháng một lần. Cuộc vận động ủng hộ Quỹ “Vì người "
    "nghèo” tổ 4 đạt 4.200.000 đồng, tôi trực tiếp đi thu và nộp đầy đủ. Tôi cũng tham gia hòa "
    "giải hai vụ tranh chấp lối đi giữa các hộ, cả hai vụ đều hòa giải thành."
)
CELL_RESULTS_HOA = (
    "Chi bộ giao tôi theo dõi công tác hội phụ nữ và gia đình ở tổ dân phố số 2. Tôi cùng chi "
    "hội tổ chức ngày chủ nhật xanh hằng tháng, vận động chị em không đốt rác, bỏ rác đúng giờ. "
    "Tôi đóng góp Quỹ “Vì người nghèo” và Quỹ khuyến học của khu phố, động viên 3 gia đình có "
    "con em thi đỗ đại học. Có một tháng tôi đi chữa bệnh nên không dự được buổi kiểm tra vệ "
    "sinh của khu phố."
)

FIXES_SON = (
    "Tại kỳ kiểm điểm năm 2024, tôi được chi bộ chỉ ra hạn chế là chậm cập nhật hồ sơ đảng viên "
    "trên phần mềm và chưa thường xuyên nắm tình hình tư tưởng đảng viên trong tổ. Trong năm "
    "2025, tôi đã rà soát, cập nhật đầy đủ hồ sơ của 23 đảng viên, hoàn thành trước thời hạn "
    "chi ủy giao.\n"
    "Tôi lập sổ theo dõi, mỗi quý gặp gỡ trao đổi với từng đảng viên trong tổ, kịp thời báo cáo "
    "chi ủy hai trường hợp có hoàn cảnh khó khăn để có hướng giúp đỡ.\n"
    "Hạn chế về kỹ năng nói trước đông người đã có tiến bộ nhưng chưa khắc phục triệt để, tôi "
    "sẽ tiếp tục rèn luyện trong năm tới."
)
# The first two paragraphs copied, with a figure and a word changed.
FIXES_HOA_PART = (
    "Tại kỳ kiểm điểm năm 2024, tôi được chi bộ chỉ ra hạn chế là chậm cập nhật hồ sơ đảng viên "
    "trên phần mềm và chưa thường xuyên nắm tình hình tư tưởng đảng viên trong tổ. Trong năm "
    "2025, tôi đã rà soát, cập nhật đầy đủ hồ sơ của 19 đảng viên, hoàn thành trước thời hạn "
    "chi ủy giao.\n"
    "Tôi lập sổ theo dõi, hằng quý gặp gỡ trao đổi với từng đảng viên trong tổ, kịp thời báo "
    "cáo chi ủy hai trường hợp có hoàn cảnh khó khăn để có hướng giúp đỡ."
)
FIXES_MAI = (
    "Năm 2024 chi bộ nhắc tôi chưa kịp thời cập nhật thông tin đảng viên vào phần mềm quản lý. "
    "Năm nay tôi đã nhập xong thông tin cho cả tổ ngay trong tháng 3, được chi ủy biểu dương. "
    "Việc đi thăm nắm tình hình đảng viên tôi làm chưa đều, chủ yếu trao đổi qua điện thoại; "
    "năm sau tôi sẽ đến tận nhà ít nhất mỗi quý một lần."
)

NONE_A = "Không có."
NONE_B = "Không có"
COLLECTIVE_A = "Bản thân không phải là thành viên tập thể lãnh đạo nên không có nội dung này."
COLLECTIVE_B = "Tôi không tham gia tập thể lãnh đạo, quản lý nào nên không có nội dung này."

COLLECTIVE_TAI = (
    "Là ủy viên Ban chấp hành công đoàn cơ quan, tôi chịu trách nhiệm cùng tập thể về việc tổ "
    "chức các hoạt động văn hóa, thể thao trong năm còn ít, chưa thu hút được đông đảo đoàn "
    "viên tham gia; bản thân được giao phụ trách phong trào nhưng chưa đề xuất được hình thức "
    "mới."
)
COLLECTIVE_NAM = (
    "Tập thể Ban chấp hành công đoàn còn hạn chế trong việc chăm lo đời sống đoàn viên, chưa "
    "kịp thời thăm hỏi một số trường hợp ốm đau. Phần trách nhiệm của tôi là ủy viên phụ trách "
    "công tác xã hội nhưng chưa nắm chắc tình hình từng tổ để báo cáo Ban chấp hành."
)
MERGED_TAI = SHORTCOMINGS_TAI.replace(".\n", ", ").replace(". ", ", ")
POLITICS_MAI_SWAPPED = POLITICS_MAI.replace("Tôi ", "Bản thân ").replace("tôi ", "bản thân ")

# (id, section key, the original and its author's names, the copy and the copier's names)
COPIES = [
    ("verbatim", "politics", POLITICS_HUNG, (HUNG,), POLITICS_HUNG, (MAI,)),
    ("names-changed", "results", RESULTS_LAN, (LAN,), RESULTS_BINH, (BINH,)),
    ("names-figures-format", "results", RESULTS_LAN, (LAN,), RESULTS_BINH_EDITED, (BINH,)),
    ("few-words-changed", "shortcomings", SHORTCOMINGS_TAI, (TAI,), SHORTCOMINGS_NAM, (NAM,)),
    ("sentences-reordered", "measures", MEASURES_TAI, (TAI,), MEASURES_NAM_REORDERED, (NAM,)),
    ("reordered-and-words", "politics", POLITICS_HUNG, (HUNG,), POLITICS_HUNG_REWORKED, (DUC,)),
    ("paragraph-added", "commitment", COMMITMENT_MAI, (MAI,), COMMITMENT_MAI_PLUS, (THU,)),
    ("part-copied", "earlier_fixes", FIXES_SON, (SON,), FIXES_HOA_PART, (HOA,)),
    ("stops-to-commas", "shortcomings", SHORTCOMINGS_TAI, (TAI,), MERGED_TAI, (NAM,)),
    ("pronouns-swapped", "politics", POLITICS_MAI, (MAI,), POLITICS_MAI_SWAPPED, (THU,)),
]
HONEST = [
    ("politics-mai-duc", "politics", POLITICS_MAI, (MAI,), POLITICS_DUC, (DUC,)),
    ("politics-hung-mai", "politics", POLITICS_HUNG, (HUNG,), POLITICS_MAI, (MAI,)),
    ("politics-hung-duc", "politics", POLITICS_HUNG, (HUNG,), POLITICS_DUC, (DUC,)),
    ("politics-form-subheadings", "politics", POLITICS_LABELLED_A, (MAI,),
     POLITICS_LABELLED_B, (DUC,)),
    ("results-same-school", "results", RESULTS_LAN, (LAN,), RESULTS_THU, (THU,)),
    ("results-same-residential-cell", "results", CELL_RESULTS_SON, (SON,),
     CELL_RESULTS_HOA, (HOA,)),
    ("shortcomings-thu-duc", "shortcomings", SHORTCOMINGS_THU, (THU,), SHORTCOMINGS_DUC, (DUC,)),
    ("shortcomings-tai-thu", "shortcomings", SHORTCOMINGS_TAI, (TAI,), SHORTCOMINGS_THU, (THU,)),
    ("shortcomings-tai-duc", "shortcomings", SHORTCOMINGS_TAI, (TAI,), SHORTCOMINGS_DUC, (DUC,)),
    ("measures-thu-duc", "measures", MEASURES_THU, (THU,), MEASURES_DUC, (DUC,)),
    ("measures-tai-thu", "measures", MEASURES_TAI, (TAI,), MEASURES_THU, (THU,)),
    ("commitment-same-resolution", "commitment", COMMITMENT_THU, (THU,),
     COMMITMENT_DUC, (DUC,)),
    ("commitment-mai-thu", "commitment", COMMITMENT_MAI, (MAI,), COMMITMENT_THU, (THU,)),
    ("earlier-fixes-same-task", "earlier_fixes", FIXES_SON, (SON,), FIXES_MAI, (MAI,)),
    ("collective-same-committee", "collective", COLLECTIVE_TAI, (TAI,),
     COLLECTIVE_NAM, (NAM,)),
    ("none-none", "prompts", NONE_A, (TAI,), NONE_B, (NAM,)),
    ("collective-one-liners", "collective", COLLECTIVE_A, (TAI,), COLLECTIVE_B, (NAM,)),
]
# The form's own guidance pasted back (R-F1: "photo mẫu kiểm điểm để điền theo kiểu đối phó").
HINT_PASTES = [
    ("politics-hint-verbatim", "politics", HINTS["politics"]),
    ("politics-hint-bulleted", "politics",
     "\n".join("- " + line for line in HINTS["politics"].split("\n"))),
    ("results-hint-plus-a-line", "results",
     HINTS["results"] + "\nBản thân đã hoàn thành tốt các nhiệm vụ nêu trên."),
    ("measures-hint-verbatim", "measures", HINTS["measures"] + " Thực hiện trong năm 2026."),
]


def score(case) -> float | None:
    _id, key, a, names_a, b, names_b = case
    return section_score(b, a, names_a=names_b, names_b=names_a, hint=HINTS[key])


def table() -> str:
    rows = [f"{'pair':32} {'score':>6} {'gate':>6}"]
    for title, cases in (("copies", COPIES), ("honest", HONEST)):
        rows.append(f"-- {title} (threshold {THRESHOLD}, gate {GATE})")
        for case in cases:
            _id, key, a, names_a, b, names_b = case
            hint = _Hint(HINTS[key])
            gate = _gate(_Text(a, names_a, hint), _Text(b, names_b, hint))
            value = score(case)
            shown = "  n/a" if value is None else f"{value:6.1f}"
            rows.append(f"{case[0]:32} {shown} {gate:6.1f}")
    rows.append("-- hint pasted back (one way)")
    for hid, key, text in HINT_PASTES:
        rows.append(f"{hid:32} {hint_score(text, HINTS[key]):6.1f}")
    return "\n".join(rows)


def flags_for(case) -> list[CopyFlag]:
    _id, key, a, names_a, b, names_b = case
    other = OtherReview(review_id=7, names=names_a, sections={key: a})
    return find_copies({key: b}, [other], HINTS, own_names=names_b)


@pytest.mark.parametrize("case", COPIES, ids=[c[0] for c in COPIES])
def test_copies_are_flagged(case):
    flags = flags_for(case)
    assert [(f.section_key, f.source, f.other_review_id) for f in flags] == [
        (case[1], "review", 7)], table()
    assert flags[0].score >= THRESHOLD + MARGIN, table()


@pytest.mark.parametrize("case", COPIES, ids=[c[0] for c in COPIES])
def test_copies_pass_the_gate_with_room(case):
    _id, key, a, names_a, b, names_b = case
    hint = _Hint(HINTS[key])
    assert _gate(_Text(a, names_a, hint), _Text(b, names_b, hint)) >= GATE + 25, table()


@pytest.mark.parametrize("case", HONEST, ids=[c[0] for c in HONEST])
def test_honest_pairs_are_not_flagged(case):
    assert flags_for(case) == [], table()
    value = score(case)
    assert value is None or value <= THRESHOLD - MARGIN, table()


@pytest.mark.parametrize("case", HINT_PASTES, ids=[c[0] for c in HINT_PASTES])
def test_hint_pasted_back_is_flagged(case):
    _id, key, text = case
    flags = find_copies({key: text}, [], HINTS, own_names=(LAN,))
    assert [(f.section_key, f.source, f.other_review_id) for f in flags] == [
        (key, "hint", None)], table()
    assert flags[0].score >= THRESHOLD + MARGIN, table()


def test_two_members_pasting_the_hint_are_flagged_for_the_hint_not_each_other():
    text = HINTS["politics"]
    other = OtherReview(3, (HUNG,), {"politics": text})
    flags = find_copies({"politics": text}, [other], HINTS, own_names=(MAI,))
    assert [(f.source, f.other_review_id) for f in flags] == [("hint", None)]


def test_real_text_is_not_a_hint_copy():
    for case in COPIES + HONEST:
        _id, key, a, names_a, b, names_b = case
        if len(normalise(a, names=names_a)) >= MIN_CHARS:
            assert hint_score(a, HINTS[key], names=names_a) < THRESHOLD - MARGIN, table()
    assert hint_score(CELL_RESULTS_SON, HINTS_2C["results"]) < THRESHOLD - MARGIN


def test_separation():
    copies = [score(case) for case in COPIES]
    honest = [value for value in map(score, HONEST) if value is not None]
    print(table())
    assert min(copies) - THRESHOLD >= MARGIN, table()
    assert THRESHOLD - max(honest) >= MARGIN, table()


def test_normalise_keeps_diacritics_and_drops_names_and_punctuation():
    text = "Đồng chí NGUYỄN  VĂN HÙNG (Bí thư) đã “hoàn thành” tốt!!! nhiệm vụ…"
    expected = "đồng chí bí thư đã hoàn thành tốt nhiệm vụ"
    assert normalise(text, names=["Nguyễn Văn Hùng"]) == expected
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" with combining marks
    assert normalise(decomposed) == "nguyễn"
    assert normalise("bàn bán bạn") == "bàn bán bạn"
    assert normalise("an ninh, An", names=["An"]) == "ninh"  # whole words only


def test_similarity_is_symmetric_and_bounded():
    assert similarity(POLITICS_HUNG, POLITICS_HUNG) == 100.0
    assert similarity(POLITICS_HUNG, POLITICS_MAI) == similarity(POLITICS_MAI, POLITICS_HUNG)
    assert 0.0 <= similarity(POLITICS_HUNG, MEASURES_DUC) < THRESHOLD
    assert similarity("", POLITICS_HUNG) == 0.0


def test_short_and_empty_sections_are_not_judged():
    others = [OtherReview(1, (TAI,), {"prompts": NONE_A, "collective": COLLECTIVE_A})]
    sections = {"prompts": NONE_A, "collective": COLLECTIVE_A, "measures": "   "}
    assert find_copies(sections, others, HINTS) == []


def test_only_the_copied_review_is_flagged_among_many():
    others = [
        OtherReview(1, (MAI,), {"politics": POLITICS_MAI, "results": RESULTS_THU}),
        OtherReview(2, (LAN,), {"politics": POLITICS_DUC, "results": RESULTS_LAN}),
        OtherReview(3, (SON,), {"results": CELL_RESULTS_SON}),
    ]
    mine = {"politics": POLITICS_HUNG, "results": RESULTS_BINH_EDITED,
            "measures": MEASURES_TAI}
    flags = find_copies(mine, others, HINTS, own_names=(BINH,))
    assert [(f.section_key, f.source, f.other_review_id) for f in flags] == [
        ("results", "review", 2)]


def test_flags_sorted_best_first():
    others = [OtherReview(1, (TAI,), {"shortcomings": SHORTCOMINGS_TAI}),
              OtherReview(2, (HUNG,), {"politics": POLITICS_HUNG})]
    mine = {"shortcomings": SHORTCOMINGS_NAM, "politics": POLITICS_HUNG}
    flags = find_copies(mine, others, HINTS, own_names=(NAM,))
    assert [f.other_review_id for f in flags] == [2, 1]
    assert flags[0].score == 100.0


def test_one_review_against_200_others_runs():
    pool = [text for case in HONEST for text in (case[2], case[4])]
    rng = random.Random(366)
    keys = [section.key for section in sections_for("2A")]
    assert len(keys) == 9

    def review(i: int) -> dict[str, str]:
        sentences = [s for text in rng.sample(pool, 3) for s in text.split(". ")]
        rng.shuffle(sentences)
        return {key: ". ".join(rng.sample(sentences, min(6, len(sentences)))) + f" ({i})"
                for key in keys}

    others = [OtherReview(i, (f"Đảng viên {i}",), review(i)) for i in range(200)]
    mine = review(999)
    started = time.perf_counter()
    find_copies(mine, others, HINTS, own_names=("Đảng viên 999",))
    elapsed = time.perf_counter() - started
    print(f"1 review x 200 others x 9 sections: {elapsed * 1000:.0f} ms")
